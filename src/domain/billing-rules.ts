import type { Kysely } from 'kysely';
import { loadRuleIds, lockManagedAccounts, replaceRuleAssignments } from '../store/accounts.store.ts';
import * as store from '../store/billing-rules.store.ts';
import type { BillingRuleRow, Database } from '../store/schema.ts';
import {
  BILLING_RULE_TYPES,
  classifySql,
  endOfStageIndex,
  firstStageViolation,
  STAGE_NAMES,
  stageOfType,
  type BillingRuleType,
  type Stage,
} from './billing-rule-stages.ts';
import { OBJECT_TYPES, recordAudit, type Actor, type AuditEvent } from './audit.ts';
import { inexactMessage, isExactlyRepresentable, toDecimalString } from './decimal.ts';
import { errors } from './errors.ts';
import { auditingManagedAccounts } from './managed-accounts.ts';
import { isResourceToken, newResourceToken, nowIso } from './tokens.ts';
import { checkName, parseDateish } from './validators.ts';
import { inTransaction } from '../store/transaction.ts';

type Db = Kysely<Database>;

export interface BillingRuleInput {
  type?: string | null;
  title?: string | null;
  start_date?: string | null;
  end_date?: string | null;
  start_period?: string | null;
  apply_to_all?: boolean | null;
  charge_type?: string | null;
  percentage?: number | string | null;
  service?: string | null;
  category?: string | null;
  sub_category?: string | null;
  amount?: number | string | null;
  sql_query?: string | null;
}

/** SPEC §4.2; every key present, `null` where unset (field case C05). */
export interface BillingRuleView {
  token: string;
  title: string;
  type: BillingRuleType;
  start_date: string | null;
  end_date: string | null;
  apply_to_all: boolean;
  created_by_token: string;
  created_at: string;
  charge_type: string | null;
  percentage: string | null;
  service: string | null;
  category: string | null;
  sub_category: string | null;
  start_period: string | null;
  amount: string | null;
  sql_query: string | null;
  /** Steward extension (read-only): the execution group the rule runs in, 1–4, and its name (SPEC §4.6). */
  execution_stage: Stage;
  execution_stage_name: (typeof STAGE_NAMES)[Stage];
}

type TypeSpecificField = 'charge_type' | 'percentage' | 'service' | 'category' | 'sub_category' | 'amount' | 'start_period' | 'sql_query';

/** Which type-specific fields each rule type keeps; others sent for the type are ignored, never stored. */
const FIELDS_OF_TYPE: Record<BillingRuleType, ReadonlyArray<TypeSpecificField>> = {
  exclusion: ['charge_type'],
  adjustment: ['percentage', 'service', 'category'],
  charge: ['service', 'category', 'sub_category', 'amount', 'start_period'],
  credit: ['service', 'category', 'sub_category', 'amount', 'start_period'],
  custom: ['sql_query'],
};

/** Long enough for any real billing-rule statement, short enough that parsing one stays cheap. */
export const MAX_SQL_LENGTH = 20_000;

export interface Owner {
  id: number;
  /** Recorded as created_by_token. */
  actorToken: string;
}

/** What a valid rule stores: everything but its identity and creation record. */
interface RuleValues {
  title: string;
  stage: Stage;
  apply_to_all: 0 | 1;
  start_date: string | null;
  end_date: string | null;
  charge_type: string | null;
  percentage: string | null;
  service: string | null;
  category: string | null;
  sub_category: string | null;
  amount: string | null;
  start_period: string | null;
  sql_query: string | null;
}

/**
 * SPEC §4.4, C05: the one validation of a rule of `type`, shared by create and (on the merged result) update.
 * Type-specific fields the type does not use are dropped; blank text counts as unset.
 */
async function checkRule(ownerId: number, type: BillingRuleType, input: BillingRuleInput, problems: string[]): Promise<RuleValues> {
  const keeps = new Set(FIELDS_OF_TYPE[type]);
  const text = (field: 'charge_type' | 'service' | 'category' | 'sub_category', needed: boolean): string | null => {
    if (!keeps.has(field)) return null;
    const value = input[field];
    if (value == null || value.trim() === '') {
      if (needed) problems.push(`${field} is required for ${type} rules`);
      return null;
    }
    const problem = checkName(field, value);
    if (problem) problems.push(problem);
    return value;
  };
  const decimal = (field: 'percentage' | 'amount', positive: boolean): string | null => {
    if (!keeps.has(field)) return null;
    const value = input[field];
    if (value == null) {
      problems.push(`${field} is required for ${type} rules`);
      return null;
    }
    if (typeof value === 'number' && !isExactlyRepresentable(value)) {
      problems.push(inexactMessage(field));
      return null;
    }
    const d = toDecimalString(value);
    if (d === null || d.startsWith('-') || (positive && /^0\.0$/.test(d))) {
      problems.push(`${field} must be a ${positive ? 'positive' : 'non-negative'} number`);
      return null;
    }
    return d;
  };
  const date = (field: 'start_date' | 'end_date' | 'start_period'): string | null => {
    if (field === 'start_period' && !keeps.has(field)) return null;
    const value = input[field];
    if (value == null) return null;
    if (!parseDateish(value)) {
      problems.push(`${field} must be a date (YYYY-MM-DD) or an ISO 8601 date-time`);
      return null;
    }
    return value;
  };

  const title = checkTitle(input, problems);
  const startDate = date('start_date');
  const endDate = date('end_date');
  if (startDate && endDate && (parseDateish(endDate) as Date) < (parseDateish(startDate) as Date)) {
    problems.push(`end_date must be on or after start_date (${startDate})`);
  }

  const values: RuleValues = {
    title: title ?? '',
    stage: type === 'custom' ? 1 : stageOfType(type),
    apply_to_all: input.apply_to_all ? 1 : 0,
    start_date: startDate,
    end_date: endDate,
    charge_type: text('charge_type', type === 'exclusion'),
    percentage: decimal('percentage', false),
    service: text('service', type === 'charge' || type === 'credit'),
    category: text('category', false),
    sub_category: text('sub_category', false),
    amount: decimal('amount', true),
    start_period: date('start_period'),
    sql_query: null,
  };
  if ((type === 'charge' || type === 'credit') && !startDate && !values.start_period) {
    problems.push(`start_date (or the deprecated start_period) is required for ${type} rules`);
  }
  if (!startDate && values.start_period && endDate && (parseDateish(endDate) as Date) < (parseDateish(values.start_period) as Date)) {
    problems.push(`end_date must be on or after start_period (${values.start_period})`);
  }
  if (type === 'custom') {
    const sql = input.sql_query;
    if (sql == null || sql.trim() === '') problems.push('sql_query is required for custom rules');
    else if (sql.length > MAX_SQL_LENGTH) problems.push(`sql_query is too long (maximum is ${MAX_SQL_LENGTH} characters)`);
    else if (!sql.isWellFormed()) problems.push('sql_query must be valid Unicode text (it contains an unpaired surrogate)');
    // eslint-disable-next-line no-control-regex -- refusing control characters is the point
    else if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(sql)) problems.push('sql_query must not contain control characters other than tab and line breaks');
    else {
      const classified = await classifySql(sql, String(ownerId));
      if ('error' in classified) problems.push(classified.error);
      else {
        values.sql_query = sql;
        values.stage = classified.stage;
      }
    }
  }
  return values;
}

function checkTitle(input: BillingRuleInput, problems: string[]): string | null {
  if (input.title == null) {
    problems.push('title is required');
    return null;
  }
  const problem = checkName('title', input.title);
  if (problem) problems.push(problem);
  return input.title;
}

export async function createBillingRule(db: Db, owner: Owner, actor: Actor, input: BillingRuleInput): Promise<BillingRuleView> {
  const problems: string[] = [];
  const type = typeof input.type === 'string' ? (input.type.toLowerCase() as BillingRuleType) : undefined;
  if (input.type == null) problems.push('type is required');
  else if (!BILLING_RULE_TYPES.includes(type as BillingRuleType)) problems.push(`type must be one of ${BILLING_RULE_TYPES.join(', ')}`);
  const values = type && BILLING_RULE_TYPES.includes(type) ? await checkRule(owner.id, type, input, problems) : (checkTitle(input, problems), undefined);
  if (problems.length > 0 || !type || !values) throw errors.invalid(...problems);

  return inTransaction(db, async (trx) => {
    const create = async () => {
      const row = await store.insertBillingRule(trx, owner.id, {
        token: newResourceToken('bllng_rule'),
        type,
        ...values,
        created_by_token: owner.actorToken,
        created_at: nowIso(),
      });
      const created = billingRuleView(row);
      await audit(trx, owner.id, actor, 'record_created', null, created);
      if (row.apply_to_all === 1) await attachToEveryManagedAccount(trx, owner.id, row);
      return created;
    };
    if (values.apply_to_all === 0) return create();
    await lockForRuleWrite(trx, owner.id);
    return auditingManagedAccounts(trx, owner.id, actor, create);
  });
}

export async function listBillingRules(
  db: Db,
  ownerId: number,
  page?: { page: number; limit: number },
): Promise<{ items: BillingRuleView[]; total: number }> {
  const { rows, total } = await store.listBillingRules(db, ownerId, page && { offset: (page.page - 1) * page.limit, limit: page.limit });
  return { items: rows.map(billingRuleView), total };
}

export async function getBillingRule(db: Db, ownerId: number, token: string): Promise<BillingRuleView> {
  const row = isResourceToken('bllng_rule', token) ? await store.findBillingRule(db, ownerId, token) : undefined;
  if (!row) throw errors.notFound('Billing rule');
  return billingRuleView(row);
}

/**
 * Partial update (M6): absent or null keys keep their value; the merged rule is validated like a new one; fields
 * the type does not use are ignored. A change of stage (a custom rule's SQL) must keep every managed account's
 * list in execution-group order; turning apply_to_all on attaches the rule where it is missing (SPEC §4.5).
 * All of it commits or none of it does.
 */
export async function updateBillingRule(db: Db, ownerId: number, actor: Actor, token: string, input: BillingRuleInput): Promise<BillingRuleView> {
  if (!isResourceToken('bllng_rule', token)) throw errors.notFound('Billing rule');
  return inTransaction(db, async (trx) => {
    await lockForRuleWrite(trx, ownerId);
    const row = await store.findBillingRule(trx, ownerId, token, { lock: true });
    if (!row) throw errors.notFound('Billing rule');

    const type = row.type as BillingRuleType;
    const problems: string[] = [];
    if (input.type != null && (typeof input.type !== 'string' || input.type.toLowerCase() !== type)) {
      problems.push(`type cannot be changed (this is a${/^[aeiou]/.test(type) ? 'n' : ''} ${type} rule); create a new rule instead`);
    }
    const merged: BillingRuleInput = { ...storedInput(row) };
    for (const [key, value] of Object.entries(input) as Array<[keyof BillingRuleInput, unknown]>) {
      if (value != null && Object.hasOwn(merged, key)) (merged as Record<string, unknown>)[key] = value;
    }
    const values = await checkRule(ownerId, type, merged, problems);
    if (problems.length > 0) throw errors.invalid(...problems);

    if (values.stage !== row.stage) await checkStageChange(trx, ownerId, row, values.stage);
    const update = async () => {
      const updated = await store.updateBillingRule(trx, ownerId, row.id, values);
      const after = billingRuleView(updated);
      await audit(trx, ownerId, actor, 'record_updated', billingRuleView(row), after);
      if (row.apply_to_all === 0 && updated.apply_to_all === 1) await attachToEveryManagedAccount(trx, ownerId, updated);
      return after;
    };
    return row.apply_to_all === 0 && values.apply_to_all === 1 ? auditingManagedAccounts(trx, ownerId, actor, update) : update();
  });
}

/** M9: gone from every managed account's list too (the assignments cascade), then 404. */
export async function deleteBillingRule(db: Db, ownerId: number, actor: Actor, token: string): Promise<void> {
  if (!isResourceToken('bllng_rule', token)) throw errors.notFound('Billing rule');
  await inTransaction(db, async (trx) => {
    await lockForRuleWrite(trx, ownerId);
    const row = await store.findBillingRule(trx, ownerId, token, { lock: true });
    if (!row) throw errors.notFound('Billing rule');
    await auditingManagedAccounts(trx, ownerId, actor, async () => {
      await store.deleteBillingRule(trx, ownerId, token);
      await audit(trx, ownerId, actor, 'record_destroyed', billingRuleView(row), null);
    });
  });
}

/** One audit record for a billing rule, titled with its title. */
async function audit(trx: Db, ownerId: number, actor: Actor, event: AuditEvent, before: BillingRuleView | null, after: BillingRuleView | null): Promise<void> {
  const subject = (after ?? before) as BillingRuleView;
  await recordAudit(trx, ownerId, actor, { objectType: OBJECT_TYPES.billing_rule, objectToken: subject.token, objectTitle: subject.title, event, before, after });
}

/**
 * Before a rule write that can touch managed accounts' lists: every managed account of the owner (in id order, as
 * an account PUT locks its account first), then the owner's row, which account creates and PUTs naming rules take
 * shared (store.lockRuleOwner). Accounts created while we waited are picked up again by whoever lists them next.
 */
async function lockForRuleWrite(db: Db, ownerId: number): Promise<void> {
  await lockManagedAccounts(db, ownerId);
  await store.lockRuleOwner(db, ownerId, 'update');
}

/** The stored rule in request form, for merging an update into. Only keys a request may carry. */
function storedInput(row: BillingRuleRow): BillingRuleInput {
  return {
    title: row.title,
    start_date: row.start_date,
    end_date: row.end_date,
    start_period: row.start_period,
    apply_to_all: row.apply_to_all === 1,
    charge_type: row.charge_type,
    percentage: row.percentage,
    service: row.service,
    category: row.category,
    sub_category: row.sub_category,
    amount: row.amount,
    sql_query: row.sql_query,
  };
}

/** M5: a rule may change stage only if every list holding it stays grouped by stage; else 400 naming sql_query. */
async function checkStageChange(db: Db, ownerId: number, rule: BillingRuleRow, stage: Stage): Promise<void> {
  const problems: string[] = [];
  for (const [accountToken, list] of await store.listsContainingRule(db, ownerId, rule.id)) {
    const stages = list.map((r) => (r.ruleId === rule.id ? stage : (r.stage as Stage)));
    const at = firstStageViolation(stages);
    if (at === null) continue;
    const [before, after] = [list[at - 1], list[at]] as [store.AssignedRule, store.AssignedRule];
    problems.push(
      `sql_query would move this rule from ${STAGE_NAMES[rule.stage as Stage]} to ${STAGE_NAMES[stage]}, which breaks the ` +
        `execution-group order of managed account ${accountToken}'s billing_rule_tokens (${after.ruleToken} would run after ` +
        `${before.ruleToken}); take the rule out of that account's billing_rule_tokens, change it, then put it back where its ` +
        'new execution group runs, or keep the statement in the same execution group',
    );
  }
  if (problems.length > 0) throw errors.invalid(...problems);
}

/** SPEC §4.5: an apply-to-all rule joins every existing managed account that lacks it, at the end of its stage. */
async function attachToEveryManagedAccount(db: Db, ownerId: number, rule: BillingRuleRow): Promise<void> {
  for (const accountId of await lockManagedAccounts(db, ownerId)) {
    const ids = await loadRuleIds(db, accountId);
    if (ids.includes(rule.id)) continue;
    const stages = await store.loadStages(db, ownerId, ids);
    const at = endOfStageIndex(ids.map((id) => stages.get(id) as Stage), rule.stage as Stage);
    ids.splice(at, 0, rule.id);
    await replaceRuleAssignments(db, accountId, ids);
  }
}

export function billingRuleView(row: BillingRuleRow): BillingRuleView {
  return {
    token: row.token,
    title: row.title,
    type: row.type as BillingRuleType,
    start_date: row.start_date,
    end_date: row.end_date,
    apply_to_all: row.apply_to_all === 1,
    created_by_token: row.created_by_token,
    created_at: row.created_at,
    charge_type: row.charge_type,
    percentage: row.percentage,
    service: row.service,
    category: row.category,
    sub_category: row.sub_category,
    start_period: row.start_period,
    amount: row.amount,
    sql_query: row.sql_query,
    execution_stage: row.stage as Stage,
    execution_stage_name: STAGE_NAMES[row.stage as Stage],
  };
}
