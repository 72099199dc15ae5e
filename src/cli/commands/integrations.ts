import type { Command } from 'commander';
import { requireAccount } from '../../domain/accounts.ts';
import { createIntegration } from '../../domain/integrations.ts';
import { databaseOption, output, withStore } from '../shared.ts';

/** `steward integrations …` */
export function registerIntegrationCommands(program: Command): void {
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
}
