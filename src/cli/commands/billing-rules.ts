import type { Command } from 'commander';
import { requireAccount } from '../../domain/accounts.ts';
import { createBillingRule, deleteBillingRule, getBillingRule, listBillingRules, type BillingRuleView } from '../../domain/billing-rules.ts';
import { CLI_ACTOR } from '../../domain/audit.ts';
import { DomainError, errors } from '../../domain/errors.ts';
import { databaseOption, output, withStore } from '../shared.ts';

/** The API's 404 must not name the token (A5); an operator at a terminal is better served by a message that does. */
const notFoundNamed = (token: string, account: string) => (error: unknown): never => {
  if (error instanceof DomainError && error.status === 404) throw errors.invalid(`billing rule ${token} does not exist for account ${account}`);
  throw error;
};

const describeRule = (rule: BillingRuleView) => `${rule.token}  ${rule.type}  ${rule.title}${rule.apply_to_all ? '  (apply to all)' : ''}`;

/** `steward billing-rules …` */
export function registerBillingRuleCommands(program: Command): void {
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
          return createBillingRule(store.db, { id: owner.id, actorToken: owner.token }, CLI_ACTOR, {
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

  billingRules
    .command('list')
    .description("List an account's billing rules, oldest first")
    .requiredOption('--account <acct_token>', 'owning account')
    .option('--json', 'print {"billing_rules": [...]} as JSON', false)
    .addOption(databaseOption())
    .action(async (opts: { account: string; json: boolean; database: string }) => {
      const rules = await withStore(opts.database, async (store) => {
        const owner = await requireAccount(store.db, opts.account);
        return (await listBillingRules(store.db, owner.id)).items;
      });
      const human = rules.length === 0 ? `No billing rules for ${opts.account}` : rules.map(describeRule).join('\n');
      output(opts.json, { billing_rules: rules }, human);
    });

  billingRules
    .command('show')
    .description('Show one billing rule of an account')
    .argument('<bllng_rule_token>', 'the rule')
    .requiredOption('--account <acct_token>', 'owning account')
    .option('--json', 'print the rule as JSON', false)
    .addOption(databaseOption())
    .action(async (token: string, opts: { account: string; json: boolean; database: string }) => {
      const rule = await withStore(opts.database, async (store) => {
        const owner = await requireAccount(store.db, opts.account);
        return getBillingRule(store.db, owner.id, token).catch(notFoundNamed(token, opts.account));
      });
      const details = Object.entries(rule)
        .filter(([key, value]) => value !== null && !['token', 'type', 'title', 'apply_to_all'].includes(key))
        .map(([key, value]) => `  ${key}: ${String(value)}`);
      output(opts.json, rule, [describeRule(rule), ...details].join('\n'));
    });

  billingRules
    .command('delete')
    .description("Delete a billing rule of an account; it leaves every managed account's list")
    .argument('<bllng_rule_token>', 'the rule')
    .requiredOption('--account <acct_token>', 'owning account')
    .option('--json', 'print {"token": …, "deleted": true} as JSON', false)
    .addOption(databaseOption())
    .action(async (token: string, opts: { account: string; json: boolean; database: string }) => {
      await withStore(opts.database, async (store) => {
        const owner = await requireAccount(store.db, opts.account);
        await deleteBillingRule(store.db, owner.id, CLI_ACTOR, token).catch(notFoundNamed(token, opts.account));
      });
      output(opts.json, { token, deleted: true }, `Deleted billing rule ${token}`);
    });
}
