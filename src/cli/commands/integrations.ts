import { Option, type Command } from 'commander';
import { requireAccount } from '../../domain/accounts.ts';
import { CLI_ACTOR } from '../../domain/audit.ts';
import {
  createIntegration,
  deleteIntegration,
  getIntegration,
  identifierField,
  listIntegrations,
  PROVIDERS,
  type IntegrationView,
} from '../../domain/integrations.ts';
import { cliSecrets, databaseOption, output, withStore } from '../shared.ts';

interface CreateOptions {
  account: string;
  provider: string;
  accountIdentifier?: string;
  name?: string;
  description?: string;
  billingAccountId?: string;
  projectId?: string;
  datasetName?: string;
  tenant?: string;
  appId?: string;
  password?: string;
  json: boolean;
  database: string;
}

/** Page size when the CLI walks every integration. */
const PAGE = 1000;

const summary = (i: IntegrationView) => `${i.token}  ${i.provider}  ${i.account_identifier ?? ''}  ${i.status}`.trimEnd();

/** `steward integrations …` */
export function registerIntegrationCommands(program: Command): void {
  const integrations = program.command('integrations').description('Access credentials (integrations)');
  integrations
    .command('create')
    .description('Create an integration owned by an account; it feeds the account’s default workspace')
    .requiredOption('--account <acct_token>', 'owning account')
    .requiredOption('--provider <provider>', PROVIDERS.join(' | '))
    .option('--account-identifier <id>', 'aws / azure_csp: the provider account id; for other providers, stands in for the field below that names the integration')
    .option('--name <name>', 'custom_provider: name (shown as account_identifier)')
    .option('--description <text>', 'custom_provider: description')
    .option('--billing-account-id <id>', 'gcp: billing account id (shown as account_identifier)')
    .option('--project-id <id>', 'gcp: project id')
    .option('--dataset-name <name>', 'gcp: BigQuery dataset name')
    .option('--tenant <tenant>', 'azure: Azure AD tenant (shown as account_identifier)')
    .option('--app-id <id>', 'azure: service principal application id')
    .addOption(
      new Option('--password <password>', 'azure: service principal password, encrypted at rest (prefer the environment variable)').env(
        'STEWARD_INTEGRATION_PASSWORD',
      ),
    )
    .option('--json', 'print the integration as JSON', false)
    .addOption(databaseOption())
    .action(async (opts: CreateOptions) => {
      const fields: Record<string, string | undefined> = {
        account_identifier: opts.accountIdentifier,
        name: opts.name,
        description: opts.description,
        billing_account_id: opts.billingAccountId,
        project_id: opts.projectId,
        dataset_name: opts.datasetName,
        tenant: opts.tenant,
        app_id: opts.appId,
        password: opts.password,
      };
      const identifier = identifierField(opts.provider);
      if (identifier && fields[identifier] === undefined) fields[identifier] = opts.accountIdentifier;
      const integration = await withStore(opts.database, async (store) => {
        const owner = await requireAccount(store.db, opts.account);
        // Only a provider with a secret needs the key (and its check); aws works on Postgres without one.
        const secrets = opts.provider === 'azure' ? await cliSecrets(store, opts.database) : undefined;
        return createIntegration(store.db, owner.id, CLI_ACTOR, { ...fields, provider: opts.provider }, secrets);
      });
      output(opts.json, integration, `Created integration ${integration.token} (${integration.provider} ${integration.account_identifier})`);
    });

  integrations
    .command('list')
    .description("List an account's integrations, oldest first")
    .requiredOption('--account <acct_token>', 'owning account')
    .option('--provider <provider>', 'only this provider')
    .option('--json', 'print {"integrations": [...]} as JSON', false)
    .addOption(databaseOption())
    .action(async (opts: { account: string; provider?: string; json: boolean; database: string }) => {
      const all = await withStore(opts.database, async (store) => {
        const owner = await requireAccount(store.db, opts.account);
        const items: IntegrationView[] = [];
        for (let page = 1; ; page++) {
          const got = await listIntegrations(store.db, owner.id, { provider: opts.provider }, { page, limit: PAGE });
          items.push(...got.items);
          if (items.length >= got.total || got.items.length === 0) return items;
        }
      });
      output(opts.json, { integrations: all }, all.length === 0 ? 'No integrations' : all.map(summary).join('\n'));
    });

  integrations
    .command('show')
    .description('Show one integration of an account')
    .argument('<integration_token>', 'accss_crdntl_… token')
    .requiredOption('--account <acct_token>', 'owning account')
    .option('--json', 'print the integration as JSON', false)
    .addOption(databaseOption())
    .action(async (token: string, opts: { account: string; json: boolean; database: string }) => {
      const integration = await withStore(opts.database, async (store) => {
        const owner = await requireAccount(store.db, opts.account);
        return getIntegration(store.db, owner.id, token);
      });
      const human = [
        summary(integration),
        `  workspaces: ${integration.workspace_tokens.join(', ') || '(none)'}`,
        `  delegated to: ${integration.managed_account_tokens.join(', ') || '(none)'}`,
        `  created: ${integration.created_at}`,
      ].join('\n');
      output(opts.json, integration, human);
    });

  integrations
    .command('delete')
    .description('Delete an integration; the managed accounts it was delegated to lose it')
    .argument('<integration_token>', 'accss_crdntl_… token')
    .requiredOption('--account <acct_token>', 'owning account')
    .option('--json', 'print {"token": …, "deleted": true} as JSON', false)
    .addOption(databaseOption())
    .action(async (token: string, opts: { account: string; json: boolean; database: string }) => {
      await withStore(opts.database, async (store) => {
        const owner = await requireAccount(store.db, opts.account);
        await deleteIntegration(store.db, owner.id, CLI_ACTOR, token);
      });
      output(opts.json, { token, deleted: true }, `Deleted integration ${token}`);
    });
}
