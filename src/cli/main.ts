import { chmodSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { sql } from 'kysely';
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
import { dialectOf, migrate, migrationStatus, openStore } from '../store/database.ts';
import { databaseOption, output, withStore } from './shared.ts';

const env = process.env;

/** Where `serve` reads each setting, for error messages that say what to fix. */
const SERVE_SOURCES = {
  port: '--port or PORT',
  host: '--host or HOST',
  databaseUrl: '--database or DATABASE_URL',
  publicUrl: '--public-url or PUBLIC_URL',
  logLevel: 'LOG_LEVEL',
  encryptionKey: 'STEWARD_ENCRYPTION_KEY',
  allowHttpSamlMetadata: 'STEWARD_ALLOW_HTTP_SAML_METADATA',
  rateLimitMax: 'STEWARD_RATE_LIMIT_MAX',
  rateLimitWindowSeconds: 'STEWARD_RATE_LIMIT_WINDOW_SECONDS',
  redisUrl: 'REDIS_URL',
  oauthTokenTtlSeconds: 'STEWARD_OAUTH_TOKEN_TTL_SECONDS',
  pgPoolMax: 'STEWARD_PG_POOL_MAX',
  pgStatementTimeoutMs: 'STEWARD_PG_STATEMENT_TIMEOUT_MS',
  pgConnectTimeoutMs: 'STEWARD_PG_CONNECT_TIMEOUT_MS',
  pgPreparedStatements: 'STEWARD_PG_PREPARED_STATEMENTS',
  migrateOnStart: 'STEWARD_MIGRATE_ON_START',
  shutdownDelaySeconds: 'STEWARD_SHUTDOWN_DELAY_SECONDS',
  shutdownTimeoutSeconds: 'STEWARD_SHUTDOWN_TIMEOUT_SECONDS',
} as const;

const migrationSummary = (applied: string[], ran: boolean) =>
  !ran ? 'migrations not run at start (--no-migrate); /readyz reports any pending' : applied.length === 0 ? 'database schema is current' : `applied migrations ${applied.join(', ')}`;

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
  .addOption(new Option('--no-migrate', 'do not run pending migrations at start (run `steward migrate` ahead; /readyz is 503 until then)'))
  .action(async (opts: { port: string; host: string; database: string; publicUrl?: string; demo?: boolean; migrate: boolean }) => {
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
      pgPoolMax: env.STEWARD_PG_POOL_MAX,
      pgStatementTimeoutMs: env.STEWARD_PG_STATEMENT_TIMEOUT_MS,
      pgConnectTimeoutMs: env.STEWARD_PG_CONNECT_TIMEOUT_MS,
      pgPreparedStatements: env.STEWARD_PG_PREPARED_STATEMENTS,
      shutdownDelaySeconds: env.STEWARD_SHUTDOWN_DELAY_SECONDS,
      shutdownTimeoutSeconds: env.STEWARD_SHUTDOWN_TIMEOUT_SECONDS,
      migrateOnStart: opts.migrate ? env.STEWARD_MIGRATE_ON_START : false,
    }, SERVE_SOURCES);
    let demo: Awaited<ReturnType<typeof seedDemoIfEmpty>> = null;
    const server = await startServer(config, async (store) => {
      if (opts.demo) demo = await seedDemoIfEmpty(store.db);
    });
    if (server.lifecycle.blocked) {
      process.stdout.write(`\nSteward is listening on ${server.listening} (database ${describeDatabase(config.databaseUrl)}), not serving the API yet: ${server.lifecycle.blocked}\n\n`);
    } else {
      await printBanner(server.store.db, { listening: server.listening, origin: server.origin }, demo, describeDatabase(config.databaseUrl));
    }
    server.app.log.info({ migrated: server.migrated, migrateOnStart: config.migrateOnStart }, migrationSummary(server.migrated, config.migrateOnStart));
    let stopping = false;
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      // `on`, not `once`: a supervisor that repeats the signal (or a second Ctrl-C) must not cut the drain short.
      process.on(signal, () => {
        if (stopping) {
          server.app.log.info({ signal }, 'already shutting down; the shutdown timeout bounds it');
          return;
        }
        stopping = true;
        server.app.log.info({ signal }, 'shutting down: no new connections; finishing the requests in flight');
        server.close().then(
          (finished) => {
            server.app.log.info({ finished }, finished ? 'stopped: every request in flight was answered' : 'stopped at the shutdown deadline');
            process.exit(finished ? 0 : 1);
          },
          (error: unknown) => {
            server.app.log.error({ err: error }, 'shutdown failed');
            process.exit(1);
          },
        );
      });
    }
  });

program
  .command('migrate')
  .description('Run pending database migrations and exit (safe while other processes run or migrate; one waits for the other)')
  .option('--json', 'print {"applied": [...], "current": [...]} as JSON', false)
  .addOption(databaseOption())
  .action(async (opts: { json: boolean; database: string }) => {
    const store = await openStore(parseConfig({ databaseUrl: opts.database }).databaseUrl);
    try {
      const applied = await migrate(store);
      const { applied: current } = await migrationStatus(store);
      output(opts.json, { applied, current }, `${migrationSummary(applied, true)} (${describeDatabase(opts.database)})`);
    } finally {
      await store.close();
    }
  });

program
  .command('backup')
  .description("SQLite: write a consistent copy of the database to a new file while the server runs (VACUUM INTO); PostgreSQL: use pg_dump")
  .requiredOption('--to <path>', 'the new file to write (must not exist)')
  .addOption(databaseOption())
  .action(async (opts: { to: string; database: string }) => {
    const databaseUrl = parseConfig({ databaseUrl: opts.database }).databaseUrl;
    if (dialectOf(databaseUrl) === 'postgres') {
      throw new Error('backup copies SQLite files; for PostgreSQL use pg_dump --format=custom (see docs/deploy.md)');
    }
    const target = resolve(opts.to);
    if (existsSync(target)) throw new Error(`${target} already exists; choose a new file`);
    const store = await openStore(databaseUrl);
    try {
      await sql`vacuum into ${target}`.execute(store.db);
      chmodSync(target, 0o600); // it holds token hashes and sealed secrets, as the database does
    } finally {
      await store.close();
    }
    process.stdout.write(`Backed up ${databaseUrl} to ${target} (keep the encryption key, steward.key or STEWARD_ENCRYPTION_KEY, apart from it)\n`);
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
