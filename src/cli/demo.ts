import type { Kysely } from 'kysely';
import { createAccount, createApiToken, firstMspAccount, isEmpty, type AccountView, type CreatedApiToken } from '../domain/accounts.ts';
import { createBillingRule, type BillingRuleView } from '../domain/billing-rules.ts';
import { createIntegration, type IntegrationView } from '../domain/integrations.ts';
import { requireAccount } from '../domain/accounts.ts';
import type { Database } from '../store/schema.ts';

export interface Demo {
  account: AccountView;
  integration: IntegrationView;
  rules: BillingRuleView[];
  token: CreatedApiToken;
}

/** `npm start` on an empty database: a demo MSP with one integration, two billing rules and a write token. */
export async function seedDemoIfEmpty(db: Kysely<Database>): Promise<Demo | null> {
  if (!(await isEmpty(db))) return null;
  const account = await createAccount(db, { name: 'Demo MSP', msp: true });
  const owner = await requireAccount(db, account.token);
  const integration = await createIntegration(db, owner.id, { provider: 'aws', account_identifier: '123456789012' });
  const firstOfMonth = new Date().toISOString().slice(0, 8) + '01';
  const actor = { id: owner.id, actorToken: owner.token };
  const fee = await createBillingRule(db, actor, {
    type: 'charge',
    title: 'Monthly MSP fee',
    service: 'MSP',
    category: 'MSP Fee',
    sub_category: 'Monthly',
    amount: 300,
    start_date: firstOfMonth,
  });
  const uplift = await createBillingRule(db, actor, { type: 'adjustment', title: 'Show 95% of spend', percentage: 95 });
  const token = await createApiToken(db, { accountToken: account.token, scopes: 'read,write', description: 'demo (npm start)' });
  return { account, integration, rules: [fee, uplift], token };
}

export async function printDemoBanner(db: Kysely<Database>, origin: string, demo: Demo | null, database: string): Promise<void> {
  const out = (line = '') => process.stdout.write(`${line}\n`);
  out(`\nSteward is listening on ${origin} (database ${database})\n`);
  if (demo) {
    const body = JSON.stringify({
      name: 'Acme Corp',
      contact_email: 'acme-admin@example.com',
      access_credential_tokens: [demo.integration.token],
      billing_rule_tokens: demo.rules.map((r) => r.token),
      email_domain: 'acme.example.com',
    });
    out(`Created a demo MSP account ${demo.account.token} with integration ${demo.integration.token}`);
    out(`and billing rules ${demo.rules.map((r) => `${r.token} (${r.title})`).join(', ')}.`);
    out(`\nWrite token (shown once; only its hash is stored):\n  ${demo.token.token}\n`);
    out('Create a managed account with them:');
    out(`  curl -sS -X POST ${origin}/v2/managed_accounts \\`);
    out(`    -H "Authorization: Bearer ${demo.token.token}" -H "Content-Type: application/json" \\`);
    out(`    -d '${body}'`);
    out(`\nList them:\n  curl -sS ${origin}/v2/managed_accounts -H "Authorization: Bearer ${demo.token.token}"\n`);
    return;
  }
  const msp = await firstMspAccount(db);
  out('Tokens are shown only when created. To make a new one:');
  out(`  npx steward tokens create --account ${msp?.token ?? '<acct_token>'} --scopes read,write --database ${database}`);
  if (!msp) out('(no MSP account yet: npx steward accounts create --name "My MSP" --msp)');
  out('');
}
