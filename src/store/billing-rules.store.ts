import type { Kysely } from 'kysely';
import type { BillingRuleRow, Database, NewBillingRule } from './schema.ts';

type Db = Kysely<Database>;

export async function insertBillingRule(db: Db, ownerId: number, values: Omit<NewBillingRule, 'account_id'>): Promise<BillingRuleRow> {
  return db
    .insertInto('billing_rules')
    .values({ ...values, account_id: ownerId })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** The owner's rules among `tokens`; tokens of other accounts are simply not found (A5). */
export async function findBillingRulesByTokens(db: Db, ownerId: number, tokens: string[]): Promise<BillingRuleRow[]> {
  if (tokens.length === 0) return [];
  return db.selectFrom('billing_rules').selectAll().where('account_id', '=', ownerId).where('token', 'in', tokens).execute();
}

/** Apply-to-all rules of the owner, in creation order (M5). */
export async function listApplyToAllRules(db: Db, ownerId: number): Promise<BillingRuleRow[]> {
  return db.selectFrom('billing_rules').selectAll().where('account_id', '=', ownerId).where('apply_to_all', '=', 1).orderBy('id').execute();
}

/** id → stage for the given rule ids. */
export async function loadStages(db: Db, ownerId: number, ruleIds: number[]): Promise<Map<number, number>> {
  if (ruleIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('billing_rules')
    .select(['id', 'stage'])
    .where('account_id', '=', ownerId)
    .where('id', 'in', ruleIds)
    .execute();
  return new Map(rows.map((r) => [r.id, r.stage]));
}
