import { Command, Option } from 'commander';
import { describeDatabase, parseConfig, type Config } from '../config.ts';
import { createAccount, createApiToken, revokeApiToken, requireAccount } from '../domain/accounts.ts';
import { createBillingRule } from '../domain/billing-rules.ts';
import { DomainError } from '../domain/errors.ts';
import { createIntegration } from '../domain/integrations.ts';
import { startServer } from '../server.ts';
import { migrate, openStore, type Store } from '../store/database.ts';
import { printBanner, seedDemoIfEmpty } from './demo.ts';

const env = process.env;
const databaseOption = () =>
  new Option('--database <path-or-url>', 'SQLite file path or postgres:// URL').env('DATABASE_URL').default('./data/steward.sqlite');

/** Prints one JSON object (with --json) or a short human summary; the resource is the API's shape. */
function output(json: boolean, resource: object, human: string): void {
  process.stdout.write(json ? `${JSON.stringify(resource)}\n` : `${human}\n`);
}

async function withStore<T>(database: string, run: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(parseConfig({ databaseUrl: database }).databaseUrl);
  try {
    await migrate(store);
    return await run(store);
  } finally {
    await store.close();
  }
}

const program = new Command('steward')
  .description('Steward: managed accounts for MSPs, speaking the Vantage API v2')
  .showHelpAfterError()
  .exitOverride();

program
  .command('serve')
  .description('Run the HTTP server (migrates the database first)')
  .addOption(new Option('--port <port>', 'port to listen on').env('PORT').default('8080'))
  .addOption(new Option('--host <host>', 'interface to bind').env('HOST').default('127.0.0.1'))
  .addOption(databaseOption())
  .addOption(new Option('--public-url <url>', 'origin clients use, for pagination links').env('PUBLIC_URL'))
  .addOption(new Option('--demo', 'on an empty database, create a demo MSP and print a token and a curl to try'))
  .action(async (opts: { port: string; host: string; database: string; publicUrl?: string; demo?: boolean }) => {
    const config: Config = parseConfig({
      port: opts.port,
      host: opts.host,
      databaseUrl: opts.database,
      publicUrl: opts.publicUrl,
      logLevel: env.LOG_LEVEL,
      allowedContactDomains: env.ALLOWED_CONTACT_DOMAINS?.split(',').map((d) => d.trim()).filter(Boolean),
    });
    let demo: Awaited<ReturnType<typeof seedDemoIfEmpty>> = null;
    const server = await startServer(config, async (store) => {
      if (opts.demo) demo = await seedDemoIfEmpty(store.db);
    });
    await printBanner(server.store.db, { listening: server.listening, origin: server.origin }, demo, describeDatabase(config.databaseUrl));
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        server.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      });
    }
  });

const accounts = program.command('accounts').description('Top-level accounts (MSPs)');
accounts
  .command('create')
  .description('Create a top-level account')
  .requiredOption('--name <name>', 'display name')
  .option('--msp', 'the account is an MSP and may manage accounts', false)
  .option('--json', 'print the account as JSON', false)
  .addOption(databaseOption())
  .action(async (opts: { name: string; msp: boolean; json: boolean; database: string }) => {
    const account = await withStore(opts.database, (store) => createAccount(store.db, { name: opts.name, msp: opts.msp }));
    output(opts.json, account, `Created ${account.msp ? 'MSP ' : ''}account ${account.token} (${account.name})`);
  });

const tokens = program.command('tokens').description('API bearer tokens');
tokens
  .command('create')
  .description('Create a bearer token; the secret is printed once and stored only as a hash')
  .requiredOption('--account <acct_token>', 'account the token acts for')
  .option('--scopes <scopes>', 'comma-separated: read,write', 'read,write')
  .option('--description <text>', 'what the token is for')
  .option('--json', 'print the token as JSON', false)
  .addOption(databaseOption())
  .action(async (opts: { account: string; scopes: string; description?: string; json: boolean; database: string }) => {
    const created = await withStore(opts.database, (store) =>
      createApiToken(store.db, { accountToken: opts.account, scopes: opts.scopes, description: opts.description ?? null }),
    );
    output(opts.json, created, `${created.token}\n(scopes ${created.scopes.join(',')}; shown once, store it now)`);
  });
tokens
  .command('revoke')
  .description('Revoke a bearer token')
  .argument('<vntg_token>', 'the token secret')
  .addOption(databaseOption())
  .action(async (secret: string, opts: { database: string }) => {
    await withStore(opts.database, (store) => revokeApiToken(store.db, secret));
    process.stdout.write('Revoked\n');
  });

const integrations = program.command('integrations').description('Access credentials (integrations)');
integrations
  .command('create')
  .description('Create an integration owned by an account')
  .requiredOption('--account <acct_token>', 'owning account')
  .requiredOption('--provider <provider>', 'aws | gcp | azure | custom_provider')
  .requiredOption('--account-identifier <id>', 'provider account id, billing account, subscription or name')
  .option('--json', 'print the integration as JSON', false)
  .addOption(databaseOption())
  .action(async (opts: { account: string; provider: string; accountIdentifier: string; json: boolean; database: string }) => {
    const integration = await withStore(opts.database, async (store) => {
      const owner = await requireAccount(store.db, opts.account);
      return createIntegration(store.db, owner.id, { provider: opts.provider, account_identifier: opts.accountIdentifier });
    });
    output(opts.json, integration, `Created integration ${integration.token} (${integration.provider} ${integration.account_identifier})`);
  });

const billingRules = program.command('billing-rules').description('Billing rules');
billingRules
  .command('create')
  .description('Create a billing rule owned by an account')
  .requiredOption('--account <acct_token>', 'owning account')
  .requiredOption('--type <type>', 'exclusion | adjustment | charge | credit | custom')
  .requiredOption('--title <title>', 'title')
  .option('--percentage <n>', 'adjustment: percentage of cost shown')
  .option('--charge-type <x>', 'exclusion: charge type to drop, e.g. RIFee')
  .option('--service <s>', 'service')
  .option('--category <c>', 'category')
  .option('--sub-category <sc>', 'sub-category')
  .option('--amount <n>', 'charge/credit: amount')
  .option('--start-date <d>', 'YYYY-MM-DD')
  .option('--sql-query <q>', 'custom: SQL statement')
  .option('--apply-to-all', 'apply to all current and future managed accounts', false)
  .option('--json', 'print the rule as JSON', false)
  .addOption(databaseOption())
  .action(
    async (opts: {
      account: string;
      type: string;
      title: string;
      percentage?: string;
      chargeType?: string;
      service?: string;
      category?: string;
      subCategory?: string;
      amount?: string;
      startDate?: string;
      sqlQuery?: string;
      applyToAll: boolean;
      json: boolean;
      database: string;
    }) => {
      const rule = await withStore(opts.database, async (store) => {
        const owner = await requireAccount(store.db, opts.account);
        return createBillingRule(store.db, { id: owner.id, actorToken: owner.token }, {
          type: opts.type,
          title: opts.title,
          percentage: opts.percentage,
          charge_type: opts.chargeType,
          service: opts.service,
          category: opts.category,
          sub_category: opts.subCategory,
          amount: opts.amount,
          start_date: opts.startDate,
          sql_query: opts.sqlQuery,
          apply_to_all: opts.applyToAll,
        });
      });
      output(opts.json, rule, `Created billing rule ${rule.token} (${rule.type}: ${rule.title})`);
    },
  );

try {
  await program.parseAsync(process.argv);
} catch (error) {
  const e = error as { code?: string; exitCode?: number; message?: string };
  if (e.code?.startsWith('commander.')) process.exit(e.exitCode ?? 1); // commander already printed it
  const message = error instanceof DomainError ? error.messages.join('\n') : (e.message ?? String(error));
  process.stderr.write(`steward: ${message}\n`);
  process.exit(1);
}
