/**
 * A benchmark MSP made through Steward's own domain (the same code the API and CLI run): an integration, two billing
 * rules from different stages, a read/write token, and `accounts` managed accounts that each carry them.
 */
import type { Kysely } from 'kysely';
import { createAccount, createApiToken, requireAccount } from '../src/domain/accounts.ts';
import { CLI_ACTOR } from '../src/domain/audit.ts';
import { createBillingRule, type BillingRuleView } from '../src/domain/billing-rules.ts';
import { createIntegration, type IntegrationView } from '../src/domain/integrations.ts';
import { createManagedAccount, type ManagedAccountView } from '../src/domain/managed-accounts.ts';
import { migrate, openStore } from '../src/store/database.ts';
import type { AccountRow, Database } from '../src/store/schema.ts';

export interface BenchMsp {
  token: string;
  integrationToken: string;
  ruleTokens: string[];
  /** The managed accounts made, oldest first. */
  accounts: ManagedAccountView[];
}

/** An MSP made through the domain, with what its managed accounts carry: one integration, a charge then an adjustment. */
export interface MspSetup {
  owner: AccountRow;
  integration: IntegrationView;
  /** In execution order (charge, then adjustment), as billing_rule_tokens must list them. */
  rules: BillingRuleView[];
  /** A read/write API token for it. */
  token: string;
}

export async function createBenchMsp(db: Kysely<Database>, name: string, accountIdentifier = '123456789012'): Promise<MspSetup> {
  const msp = await createAccount(db, { name, msp: true });
  const owner = await requireAccount(db, msp.token);
  const integration = await createIntegration(db, owner.id, CLI_ACTOR, { provider: 'aws', account_identifier: accountIdentifier });
  const actor = { id: owner.id, actorToken: owner.token };
  const charge = await createBillingRule(db, actor, CLI_ACTOR, {
    type: 'charge',
    title: 'Monthly MSP fee',
    service: 'MSP',
    category: 'MSP Fee',
    sub_category: 'Monthly',
    amount: 300,
    start_date: '2026-12-01',
  });
  const adjustment = await createBillingRule(db, actor, CLI_ACTOR, { type: 'adjustment', title: 'Show 95% of spend', percentage: 95 });
  const token = await createApiToken(db, { accountToken: msp.token, scopes: 'read,write', description: `${name} benchmark` });
  return { owner, integration, rules: [charge, adjustment], token: token.token };
}

export async function seedMsp(databaseUrl: string, accounts: number, label = 'Bench'): Promise<BenchMsp> {
  const store = await openStore(databaseUrl);
  try {
    await migrate(store);
    const db = store.db;
    const { owner, integration, rules, token } = await createBenchMsp(db, `${label} MSP`);
    const parent = { id: owner.id, token: owner.token };
    const ruleTokens = rules.map((r) => r.token);
    const made: ManagedAccountView[] = [];
    for (let i = 0; i < accounts; i++) {
      made.push(
        await createManagedAccount(db, parent, CLI_ACTOR, {
          name: `Customer ${i}`,
          contact_email: `seed-${i}@customer-${i}.example.com`,
          access_credential_tokens: [integration.token],
          billing_rule_tokens: ruleTokens,
        }, { allowedContactDomains: [] }),
      );
    }
    return { token, integrationToken: integration.token, ruleTokens, accounts: made };
  } finally {
    await store.close();
  }
}
