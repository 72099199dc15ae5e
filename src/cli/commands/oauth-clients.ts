import type { Command } from 'commander';
import { createOauthClient, listOauthClients, revokeOauthClient, type OauthClientView } from '../../domain/oauth.ts';
import { databaseOption, output, withStore } from '../shared.ts';

const summary = (c: OauthClientView) =>
  [c.client_id, c.scopes.join(','), c.description ?? '(no description)', `created ${c.created_at}`, c.revoked_at ? `revoked ${c.revoked_at}` : null]
    .filter(Boolean)
    .join('  ');

/** `steward oauth-clients …`: clients of the OAuth 2.0 client credentials grant (POST /oauth/token). */
export function registerOauthClientCommands(program: Command): void {
  const clients = program.command('oauth-clients').description('OAuth 2.0 clients (client credentials grant at POST /oauth/token)');
  clients
    .command('create')
    .description('Register a client; its secret is printed once and stored only as a scrypt hash')
    .requiredOption('--account <acct_token>', 'account the client’s tokens act for')
    .option('--scopes <scopes>', 'comma-separated: read,write (the most its tokens may have)', 'read,write')
    .option('--description <text>', 'what the client is')
    .option('--json', 'print the client, with client_secret, as JSON', false)
    .addOption(databaseOption())
    .action(async (opts: { account: string; scopes: string; description?: string; json: boolean; database: string }) => {
      const created = await withStore(opts.database, (store) =>
        createOauthClient(store.db, { accountToken: opts.account, scopes: opts.scopes, description: opts.description ?? null }),
      );
      const human = [
        `client_id:     ${created.client_id}`,
        `client_secret: ${created.client_secret}`,
        `(scopes ${created.scopes.join(',')}; the secret is shown once, store it now)`,
      ].join('\n');
      output(opts.json, created, human);
    });
  clients
    .command('list')
    .description("List an account's clients, oldest first (never their secrets)")
    .requiredOption('--account <acct_token>', 'owning account')
    .option('--json', 'print {"oauth_clients": [...]} as JSON', false)
    .addOption(databaseOption())
    .action(async (opts: { account: string; json: boolean; database: string }) => {
      const all = await withStore(opts.database, (store) => listOauthClients(store.db, opts.account));
      output(opts.json, { oauth_clients: all }, all.length === 0 ? 'No OAuth clients' : all.map(summary).join('\n'));
    });
  clients
    .command('revoke')
    .description('Revoke a client and every token it was issued')
    .argument('<client_id>', 'stw_client_… id')
    .option('--json', 'print the revoked client as JSON', false)
    .addOption(databaseOption())
    .action(async (clientId: string, opts: { json: boolean; database: string }) => {
      const revoked = await withStore(opts.database, (store) => revokeOauthClient(store.db, clientId));
      output(opts.json, revoked, `Revoked OAuth client ${revoked.client_id} and its tokens`);
    });
}
