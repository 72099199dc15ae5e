import type { Command } from 'commander';
import { requireAccount } from '../../domain/accounts.ts';
import {
  createBillingProfile,
  deleteBillingProfile,
  getBillingProfile,
  listBillingProfiles,
  type BillingProfileView,
} from '../../domain/billing-profiles.ts';
import { CLI_ACTOR } from '../../domain/audit.ts';
import { cliSecrets, databaseOption, output, withStore } from '../shared.ts';

const PAGE = 1000;

const summary = (p: BillingProfileView) => `${p.token}  ${p.nickname}  (${p.managed_accounts_count} managed account${p.managed_accounts_count === '1' ? '' : 's'})`;

/**
 * `steward billing-profiles …`: an operator's view of an MSP's billing profiles. Unlike the API these work whether
 * or not MSP invoicing is on, so an operator can inspect or tidy up after switching it off. `show --json` prints
 * banking secure data in the clear, as the API returns it.
 */
export function registerBillingProfileCommands(program: Command): void {
  const billingProfiles = program.command('billing-profiles').description("Billing profiles (an MSP's invoicing identities)");

  billingProfiles
    .command('create')
    .description('Create a billing profile with a nickname (fill in the rest through the API)')
    .requiredOption('--account <acct_token>', 'owning MSP account')
    .requiredOption('--nickname <name>', 'display name')
    .option('--json', 'print the billing profile as JSON', false)
    .addOption(databaseOption())
    .action(async (opts: { account: string; nickname: string; json: boolean; database: string }) => {
      const profile = await withStore(opts.database, async (store) => {
        const owner = await requireAccount(store.db, opts.account);
        return createBillingProfile(store.db, await cliSecrets(store, opts.database), owner.id, CLI_ACTOR, { nickname: opts.nickname });
      });
      output(opts.json, profile, `Created billing profile ${profile.token} (${profile.nickname})`);
    });

  billingProfiles
    .command('list')
    .description("List an account's billing profiles, oldest first")
    .requiredOption('--account <acct_token>', 'owning MSP account')
    .option('--json', 'print {"billing_profiles": [...]} as JSON', false)
    .addOption(databaseOption())
    .action(async (opts: { account: string; json: boolean; database: string }) => {
      const all = await withStore(opts.database, async (store) => {
        const owner = await requireAccount(store.db, opts.account);
        const secrets = await cliSecrets(store, opts.database);
        const items: BillingProfileView[] = [];
        for (let page = 1; ; page++) {
          const got = await listBillingProfiles(store.db, secrets, owner.id, { page, limit: PAGE });
          items.push(...got.items);
          if (items.length >= got.total || got.items.length === 0) return items;
        }
      });
      output(opts.json, { billing_profiles: all }, all.length === 0 ? 'No billing profiles' : all.map(summary).join('\n'));
    });

  billingProfiles
    .command('show')
    .description('Show one billing profile of an account')
    .argument('<billing_profile_token>', 'blng_prfl_… token')
    .requiredOption('--account <acct_token>', 'owning MSP account')
    .option('--json', 'print the billing profile as JSON (banking secure data included)', false)
    .addOption(databaseOption())
    .action(async (token: string, opts: { account: string; json: boolean; database: string }) => {
      const profile = await withStore(opts.database, async (store) => {
        const owner = await requireAccount(store.db, opts.account);
        return getBillingProfile(store.db, await cliSecrets(store, opts.database), owner.id, token);
      });
      const billing = profile.billing_information_attributes;
      const human = [
        summary(profile),
        `  company: ${billing.company_name ?? '(none)'}${billing.country_code ? ` (${billing.country_code})` : ''}`,
        `  billing email: ${billing.billing_email.join(', ') || '(none)'}`,
        `  banking: ${profile.banking_information_attributes ? (profile.banking_information_attributes.bank_name ?? '(no bank name)') : '(none)'}`,
        `  adjustments: ${profile.invoice_adjustment_attributes.adjustment_items.map((i) => `${i.name} ${i.adjustment_type} ${i.amount}${i.calculation_type === 'percentage' ? '%' : ''}`).join(', ') || '(none)'}`,
        `  created: ${profile.created_at}, updated: ${profile.updated_at}`,
      ].join('\n');
      output(opts.json, profile, human);
    });

  billingProfiles
    .command('delete')
    .description('Delete a billing profile; refused while a managed account names it')
    .argument('<billing_profile_token>', 'blng_prfl_… token')
    .requiredOption('--account <acct_token>', 'owning MSP account')
    .option('--json', 'print {"token": …, "deleted": true} as JSON', false)
    .addOption(databaseOption())
    .action(async (token: string, opts: { account: string; json: boolean; database: string }) => {
      await withStore(opts.database, async (store) => {
        const owner = await requireAccount(store.db, opts.account);
        await deleteBillingProfile(store.db, await cliSecrets(store, opts.database), owner.id, CLI_ACTOR, token);
      });
      output(opts.json, { token, deleted: true }, `Deleted billing profile ${token}`);
    });
}
