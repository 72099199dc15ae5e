import type { Kysely, Updateable } from 'kysely';
import type { BillingRuleRow, BillingRulesTable, Database, NewBillingRule } from './schema.ts';
import { takesRowLocks } from './transaction.ts';

type Db = Kysely<Database>;

export async function insertBillingRule(db: Db, ownerId: number, values: Omit<NewBillingRule, 'account_id'>): Promise<BillingRuleRow> {
  return db
    .insertInto('billing_rules')
    .values({ ...values, account_id: ownerId })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/**
 * The MSP's own account row is the lock that orders changes to its rules (stage, apply_to_all, deletion: `update`)
 * against managed-account writes that read those rules to build a list (`share`), so a list is never validated
 * against a stage that is being changed, and no account is created past an apply-to-all rule being switched on.
 * Rule writes lock the managed accounts first and this row second; account writes lock at most one managed account
 * before this row, so the two orders never cross.
 */
export async function lockRuleOwner(db: Db, ownerId: number, mode: 'share' | 'update'): Promise<void> {
  if (!takesRowLocks(db)) return;
  const query = db.selectFrom('accounts').select('id').where('id', '=', ownerId);
  await (mode === 'update' ? query.forUpdate() : query.forShare()).execute();
}

/** The owner's rules among `tokens`; tokens of other accounts are simply not found (A5). Read under lockRuleOwner. */
export async function findBillingRulesByTokens(db: Db, ownerId: number, tokens: string[]): Promise<BillingRuleRow[]> {
  if (tokens.length === 0) return [];
  await lockRuleOwner(db, ownerId, 'share');
  return db.selectFrom('billing_rules').selectAll().where('account_id', '=', ownerId).where('token', 'in', tokens).execute();
}

/** One of the owner's rules; with `lock`, the row stays locked until the transaction ends. */
export async function findBillingRule(db: Db, ownerId: number, token: string, options: { lock?: boolean } = {}): Promise<BillingRuleRow | undefined> {
  return db
    .selectFrom('billing_rules')
    .selectAll()
    .where('account_id', '=', ownerId)
    .where('token', '=', token)
    .$if(Boolean(options.lock) && takesRowLocks(db), (q) => q.forUpdate())
    .executeTakeFirst();
}

/** M7: oldest first (ids only grow). Without `page`, every rule of the owner. */
export async function listBillingRules(
  db: Db,
  ownerId: number,
  page?: { offset: number; limit: number },
): Promise<{ rows: BillingRuleRow[]; total: number }> {
  const [rows, count] = await Promise.all([
    db
      .selectFrom('billing_rules')
      .selectAll()
      .where('account_id', '=', ownerId)
      .orderBy('id')
      .$if(page !== undefined, (q) => q.limit(page?.limit as number).offset(page?.offset as number))
      .execute(),
    db
      .selectFrom('billing_rules')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('account_id', '=', ownerId)
      .executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

export type BillingRulePatch = Omit<Updateable<BillingRulesTable>, 'id' | 'token' | 'account_id' | 'type' | 'created_by_token' | 'created_at'>;

export async function updateBillingRule(db: Db, ownerId: number, ruleId: number, patch: BillingRulePatch): Promise<BillingRuleRow> {
  return db
    .updateTable('billing_rules')
    .set(patch)
    .where('account_id', '=', ownerId)
    .where('id', '=', ruleId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Deletes a rule; the foreign key's cascade removes it from every managed account's list (M9). */
export async function deleteBillingRule(db: Db, ownerId: number, token: string): Promise<boolean> {
  const result = await db.deleteFrom('billing_rules').where('account_id', '=', ownerId).where('token', '=', token).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** Apply-to-all rules of the owner, in creation order (M5). Read under lockRuleOwner. */
export async function listApplyToAllRules(db: Db, ownerId: number): Promise<BillingRuleRow[]> {
  await lockRuleOwner(db, ownerId, 'share');
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

export interface AssignedRule {
  ruleId: number;
  ruleToken: string;
  stage: number;
}

/**
 * The full ordered rule list of every managed account (of this owner) that has `ruleId` assigned, keyed by the
 * account's token. Used to check that a rule's new stage keeps each of those lists in execution-group order.
 */
export async function listsContainingRule(db: Db, ownerId: number, ruleId: number): Promise<Map<string, AssignedRule[]>> {
  const rows = await db
    .selectFrom('managed_account_billing_rules as a')
    .innerJoin('accounts as acc', 'acc.id', 'a.account_id')
    .innerJoin('billing_rules as r', 'r.id', 'a.billing_rule_id')
    .select(['acc.token as accountToken', 'r.id as ruleId', 'r.token as ruleToken', 'r.stage'])
    .where('acc.parent_id', '=', ownerId)
    .where('a.account_id', 'in', (eb) => eb.selectFrom('managed_account_billing_rules').select('account_id').where('billing_rule_id', '=', ruleId))
    .orderBy('a.account_id')
    .orderBy('a.position')
    .execute();
  const lists = new Map<string, AssignedRule[]>();
  for (const row of rows) {
    const list = lists.get(row.accountToken) ?? [];
    list.push({ ruleId: row.ruleId, ruleToken: row.ruleToken, stage: row.stage });
    lists.set(row.accountToken, list);
  }
  return lists;
}
