import type { Command } from 'commander';
import { requireAccount } from '../../domain/accounts.ts';
import { createBillingRule } from '../../domain/billing-rules.ts';
import { databaseOption, output, withStore } from '../shared.ts';

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
}
