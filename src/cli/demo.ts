import type { Kysely } from 'kysely';
import { createAccount, createApiToken, firstMspAccount, isEmpty, type AccountView, type CreatedApiToken } from '../domain/accounts.ts';
import { CLI_ACTOR } from '../domain/audit.ts';
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

/** `npm start` on an empty database: a demo MSP (MSP invoicing on) with one integration, two billing rules and a write token. */
export async function seedDemoIfEmpty(db: Kysely<Database>): Promise<Demo | null> {
  if (!(await isEmpty(db))) return null;
  const account = await createAccount(db, { name: 'Demo MSP', msp: true, invoicing: true });
  const owner = await requireAccount(db, account.token);
  const integration = await createIntegration(db, owner.id, CLI_ACTOR, { provider: 'aws', account_identifier: '123456789012' });
  const firstOfMonth = new Date().toISOString().slice(0, 8) + '01';
  const actor = { id: owner.id, actorToken: owner.token };
  const fee = await createBillingRule(db, actor, CLI_ACTOR, {
    type: 'charge',
    title: 'Monthly MSP fee',
    service: 'MSP',
    category: 'MSP Fee',
    sub_category: 'Monthly',
    amount: 300,
    start_date: firstOfMonth,
  });
  const uplift = await createBillingRule(db, actor, CLI_ACTOR, { type: 'adjustment', title: 'Show 95% of spend', percentage: 95 });
  const token = await createApiToken(db, { accountToken: account.token, scopes: 'read,write', description: 'demo (npm start)' });
  return { account, integration, rules: [fee, uplift], token };
}

/** What `steward serve` prints once listening: the demo's token and curl, or how to get a token. Never a stored secret. */
export async function printBanner(
  db: Kysely<Database>,
  address: { listening: string; origin: string },
  demo: Demo | null,
  database: string,
): Promise<void> {
  const out = (line = '') => process.stdout.write(`${line}\n`);
  const origin = address.listening;
  const publicNote = address.origin === address.listening ? '' : `; public URL ${address.origin}`;
  out(`\nSteward is listening on ${origin} (database ${database}${publicNote})\n`);
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
    out(`\nRead and write token (shown once; only its hash is stored):\n  ${demo.token.token}\n`);
    out('Create a managed account with them:');
    out(`  curl -sS -X POST ${origin}/v2/managed_accounts \\`);
    out(`    -H "Authorization: Bearer ${demo.token.token}" -H "Content-Type: application/json" \\`);
    out(`    -d '${body}'`);
    out(`\nList them:\n  curl -sS ${origin}/v2/managed_accounts -H "Authorization: Bearer ${demo.token.token}"\n`);
    out(`Or open the web console and sign in with the token:\n  ${origin}/console\n`);
    return;
  }
  const msp = await firstMspAccount(db);
  if (!msp) {
    out('No MSP account yet. Create one, then a token for it:');
    out(`  npx steward accounts create --name "My MSP" --msp --database ${database}`);
    out(`  npx steward tokens create --account <acct_token from above> --scopes read,write --database ${database}`);
  } else {
    out('Tokens are shown only when created. To make a new one:');
    out(`  npx steward tokens create --account ${msp.token} --scopes read,write --database ${database}`);
    out(`Then call the API with it, or sign in to the web console with it at ${origin}/console`);
  }
  out('');
}
