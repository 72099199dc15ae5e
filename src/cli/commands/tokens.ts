import type { Command } from 'commander';
import { createApiToken, revokeApiToken } from '../../domain/accounts.ts';
import { listApiTokens, type ApiTokenView } from '../../domain/api-tokens.ts';
import { databaseOption, output, withStore } from '../shared.ts';

const summary = (t: ApiTokenView) =>
  [
    `#${t.id}`,
    t.description ?? '(no description)',
    t.scopes.join(','),
    `created ${t.created_at}`,
    `last used ${t.last_used_at ?? 'never'}`,
    t.expires_at ? `expires ${t.expires_at}` : null,
    t.revoked_at ? `revoked ${t.revoked_at}` : null,
    t.oauth_client_id ? `oauth client ${t.oauth_client_id}` : null,
  ]
    .filter(Boolean)
    .join('  ');

/** `steward tokens …` */
export function registerTokenCommands(program: Command): void {
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
    .command('list')
    .description("List an account's tokens, oldest first, with when each was last used (never the secret)")
    .requiredOption('--account <acct_token>', 'owning account')
    .option('--json', 'print {"tokens": [...]} as JSON', false)
    .addOption(databaseOption())
    .action(async (opts: { account: string; json: boolean; database: string }) => {
      const all = await withStore(opts.database, (store) => listApiTokens(store.db, opts.account));
      output(opts.json, { tokens: all }, all.length === 0 ? 'No tokens' : all.map(summary).join('\n'));
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
}
