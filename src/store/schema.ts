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
  /** MSP accounts: 1 when MSP invoicing is enabled (M11). */
  msp_invoicing: Generated<number>;
  /** Managed accounts under an invoicing parent (M11); null means the default (10 days, false). */
  msp_billing_profile_id: number | null;
  payment_terms_days: number | null;
  include_managed_account_integrations: number | null;
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
  /** JSON object of the non-secret creation fields (e.g. GCP project_id). */
  settings: Generated<string>;
  /** SecretBox ciphertext (e.g. the Azure service-principal password), or null. Never returned. */
  secret: string | null;
  last_updated: string | null;
}

export interface WorkspacesTable {
  id: Generated<number>;
  token: string;
  account_id: number;
  name: string;
  enable_currency_conversion: Generated<number>;
  currency: Generated<string>;
  exchange_rate_date: Generated<string>;
  created_at: string;
}

export interface IntegrationWorkspacesTable {
  integration_id: number;
  workspace_id: number;
}

export interface SsoConnectionsTable {
  id: Generated<number>;
  account_id: number;
  type: string;
  saml_metadata_url: string;
  /** JSON array of extra domains as sent, de-duplicated; each is also claimed in claimed_domains (source 'sso'). */
  additional_domains: Generated<string>;
  created_at: string;
  updated_at: string;
}

export interface BillingProfilesTable {
  id: Generated<number>;
  token: string;
  account_id: number;
  nickname: string;
  created_at: string;
  updated_at: string;
}

/** Owned by exactly one of a billing profile or a managed account. */
export interface BillingInformationsTable {
  id: Generated<number>;
  token: string;
  billing_profile_id: number | null;
  account_id: number | null;
  company_name: string | null;
  country_code: string | null;
  address_line_1: string | null;
  address_line_2: string | null;
  city: string | null;
  state: string | null;
  postal_code: string | null;
  /** JSON array of strings. */
  billing_email: Generated<string>;
}

export interface BusinessInformationsTable {
  id: Generated<number>;
  token: string;
  billing_profile_id: number | null;
  account_id: number | null;
  /** JSON array of {name, value}. */
  custom_fields: Generated<string>;
}

export interface BankingInformationsTable {
  id: Generated<number>;
  token: string;
  billing_profile_id: number;
  bank_name: string | null;
  beneficiary_name: string | null;
  tax_id: string | null;
  /** SecretBox ciphertext of the secure data JSON, or null. */
  secure_data: string | null;
}

export interface InvoiceAdjustmentsTable {
  id: Generated<number>;
  token: string;
  billing_profile_id: number;
  /** JSON array of {name, adjustment_type, calculation_type, amount (decimal string)}. */
  adjustment_items: Generated<string>;
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
  /** JSON array; [] = no filter (SPEC §2.6). */
  provider_account_identifiers: Generated<string>;
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
  /** Set for tokens issued by POST /oauth/token. */
  oauth_client_id: number | null;
  /** Updated at most once a minute per token. */
  last_used_at: string | null;
}

export interface OauthClientsTable {
  id: Generated<number>;
  /** Public identifier, `stw_client_` + hex. */
  client_id: string;
  /** scrypt hash of the client secret; the secret itself is never stored. */
  secret_hash: string;
  account_id: number;
  scopes: string;
  description: string | null;
  created_at: string;
  revoked_at: string | null;
}

export interface AuditLogsTable {
  id: Generated<number>;
  token: string;
  /** The account whose change this records (the caller's account); audit logs are scoped by it. */
  account_id: number;
  object_type: string;
  object_token: string | null;
  object_title: string | null;
  event: 'record_created' | 'record_updated' | 'record_destroyed';
  source: string;
  actor_token_id: number | null;
  actor_name: string | null;
  actor_oauth_client_id: string | null;
  /** JSON {field: [old, new]}. */
  changed_values: string;
  /** JSON {field: value}. */
  unchanged_values: string;
  created_at: string;
}

export interface IdempotencyKeysTable {
  id: Generated<number>;
  api_token_id: number;
  key: string;
  /** SHA-256 of method, path and body. */
  request_hash: string;
  /** null while the first request is still running. */
  status: number | null;
  /** The response body sealed with the SecretBox (it may hold secrets such as banking secure_data). */
  response_body: string | null;
  /** JSON object of the response headers worth replaying (content-type). */
  response_headers: string | null;
  /** When the claim was made; the 24-hour replay window counts from here. */
  created_at: string;
  /** When the process running the request last refreshed its claim. */
  heartbeat_at: string | null;
}

export interface StewardMetaTable {
  name: string;
  value: string;
}

export interface Database {
  accounts: AccountsTable;
  claimed_domains: ClaimedDomainsTable;
  integrations: IntegrationsTable;
  billing_rules: BillingRulesTable;
  managed_account_billing_rules: ManagedAccountBillingRulesTable;
  managed_account_integrations: ManagedAccountIntegrationsTable;
  api_tokens: ApiTokensTable;
  workspaces: WorkspacesTable;
  integration_workspaces: IntegrationWorkspacesTable;
  sso_connections: SsoConnectionsTable;
  billing_profiles: BillingProfilesTable;
  billing_informations: BillingInformationsTable;
  business_informations: BusinessInformationsTable;
  banking_informations: BankingInformationsTable;
  invoice_adjustments: InvoiceAdjustmentsTable;
  steward_meta: StewardMetaTable;
  oauth_clients: OauthClientsTable;
  audit_logs: AuditLogsTable;
  idempotency_keys: IdempotencyKeysTable;
}

export type AccountRow = Selectable<AccountsTable>;
export type IntegrationRow = Selectable<IntegrationsTable>;
export type BillingRuleRow = Selectable<BillingRulesTable>;
export type NewBillingRule = Insertable<BillingRulesTable>;
export type ApiTokenRow = Selectable<ApiTokensTable>;
export type WorkspaceRow = Selectable<WorkspacesTable>;
export type SsoConnectionRow = Selectable<SsoConnectionsTable>;
export type BillingProfileRow = Selectable<BillingProfilesTable>;
export type BillingInformationRow = Selectable<BillingInformationsTable>;
export type BusinessInformationRow = Selectable<BusinessInformationsTable>;
export type BankingInformationRow = Selectable<BankingInformationsTable>;
export type InvoiceAdjustmentRow = Selectable<InvoiceAdjustmentsTable>;
export type OauthClientRow = Selectable<OauthClientsTable>;
export type AuditLogRow = Selectable<AuditLogsTable>;
export type IdempotencyKeyRow = Selectable<IdempotencyKeysTable>;
