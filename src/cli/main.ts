import { Command, Option } from 'commander';
import { describeDatabase, parseConfig, type Config } from '../config.ts';
import { createAccount, setAccountInvoicing } from '../domain/accounts.ts';
import { DomainError } from '../domain/errors.ts';
import { startServer } from '../server.ts';
import { registerBillingProfileCommands } from './commands/billing-profiles.ts';
import { registerBillingRuleCommands } from './commands/billing-rules.ts';
import { registerIntegrationCommands } from './commands/integrations.ts';
import { registerOauthClientCommands } from './commands/oauth-clients.ts';
import { registerTokenCommands } from './commands/tokens.ts';
import { printBanner, seedDemoIfEmpty } from './demo.ts';
import { databaseOption, output, withStore } from './shared.ts';

const env = process.env;

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
      encryptionKey: env.STEWARD_ENCRYPTION_KEY,
      allowHttpSamlMetadata: env.STEWARD_ALLOW_HTTP_SAML_METADATA,
      rateLimitMax: env.STEWARD_RATE_LIMIT_MAX,
      rateLimitWindowSeconds: env.STEWARD_RATE_LIMIT_WINDOW_SECONDS,
      redisUrl: env.REDIS_URL,
      oauthTokenTtlSeconds: env.STEWARD_OAUTH_TOKEN_TTL_SECONDS,
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
  .option('--invoicing', 'with --msp: enable MSP invoicing (billing profiles, invoicing fields on managed accounts)', false)
  .option('--json', 'print the account as JSON', false)
  .addOption(databaseOption())
  .action(async (opts: { name: string; msp: boolean; invoicing: boolean; json: boolean; database: string }) => {
    const account = await withStore(opts.database, (store) => createAccount(store.db, { name: opts.name, msp: opts.msp, invoicing: opts.invoicing }));
    output(opts.json, account, `Created ${account.msp ? 'MSP ' : ''}account ${account.token} (${account.name})${account.msp_invoicing ? ' with MSP invoicing' : ''}`);
  });
accounts
  .command('invoicing')
  .description('Turn MSP invoicing on or off for an MSP account (turning it off keeps its billing profiles and settings)')
  .argument('<acct_token>', 'the MSP account')
  .addOption(new Option('--on', 'enable MSP invoicing').conflicts('off'))
  .addOption(new Option('--off', 'disable MSP invoicing').conflicts('on'))
  .option('--json', 'print the account as JSON', false)
  .addOption(databaseOption())
  .action(async (token: string, opts: { on?: boolean; off?: boolean; json: boolean; database: string }) => {
    if (!opts.on && !opts.off) program.error('steward: say --on or --off');
    const account = await withStore(opts.database, (store) => setAccountInvoicing(store.db, token, Boolean(opts.on)));
    output(opts.json, account, `MSP invoicing is ${account.msp_invoicing ? 'on' : 'off'} for ${account.token} (${account.name})`);
  });

registerTokenCommands(program);
registerOauthClientCommands(program);
registerIntegrationCommands(program);
registerBillingRuleCommands(program);
registerBillingProfileCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  const e = error as { code?: string; exitCode?: number; message?: string };
  if (e.code?.startsWith('commander.')) process.exit(e.exitCode ?? 1); // commander already printed it
  const messages =
    error instanceof DomainError
      ? error.messages
      : e.code === 'EADDRINUSE'
        ? [`${e.message}: another program is using that port; choose another with --port or PORT`]
        : [e.message ?? String(error)];
  for (const message of messages) process.stderr.write(`steward: ${message}\n`);
  process.exit(1);
}
