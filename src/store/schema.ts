import type { Generated, Insertable, Selectable } from 'kysely';

/** Row shapes as stored. Booleans are 0/1 integers and times ISO-8601 text so both dialects store them alike. */
export interface AccountsTable {
  id: Generated<number>;
  token: string;
  parent_id: number | null;
  name: string;
  contact_email: string | null;
  /** Lower-cased contact_email; unique across all accounts (M2). */
  contact_email_key: string | null;
  email_domain: string | null;
  is_msp: number;
  created_at: string;
}

/** Every domain claimed by any account, from email_domain or an SSO connection; the primary key enforces M3/S3. */
export interface ClaimedDomainsTable {
  domain_key: string;
  account_id: number;
  source: 'email_domain' | 'sso';
}

export interface IntegrationsTable {
  id: Generated<number>;
  token: string;
  account_id: number;
  provider: string;
  account_identifier: string | null;
  status: string;
  created_at: string;
}

export interface BillingRulesTable {
  id: Generated<number>;
  token: string;
  account_id: number;
  type: string;
  title: string;
  /** Execution stage 1–4 (SPEC §4.6), derived once when the rule is written. */
  stage: number;
  apply_to_all: number;
  charge_type: string | null;
  percentage: string | null;
  service: string | null;
  category: string | null;
  sub_category: string | null;
  amount: string | null;
  start_date: string | null;
  end_date: string | null;
  start_period: string | null;
  sql_query: string | null;
  created_by_token: string;
  created_at: string;
}

export interface ManagedAccountBillingRulesTable {
  account_id: number;
  billing_rule_id: number;
  position: number;
}

export interface ManagedAccountIntegrationsTable {
  id: Generated<number>;
  account_id: number;
  integration_id: number;
}

export interface ApiTokensTable {
  id: Generated<number>;
  /** SHA-256 of the secret, hex. The secret itself is never stored. */
  token_hash: string;
  account_id: number;
  scopes: string;
  description: string | null;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
}

export interface Database {
  accounts: AccountsTable;
  claimed_domains: ClaimedDomainsTable;
  integrations: IntegrationsTable;
  billing_rules: BillingRulesTable;
  managed_account_billing_rules: ManagedAccountBillingRulesTable;
  managed_account_integrations: ManagedAccountIntegrationsTable;
  api_tokens: ApiTokensTable;
}

export type AccountRow = Selectable<AccountsTable>;
export type IntegrationRow = Selectable<IntegrationsTable>;
export type BillingRuleRow = Selectable<BillingRulesTable>;
export type NewBillingRule = Insertable<BillingRulesTable>;
export type ApiTokenRow = Selectable<ApiTokensTable>;
