import type { Kysely } from 'kysely';
import { loadRuleIds, lockManagedAccounts, replaceRuleAssignments } from '../store/accounts.store.ts';
import { insertBillingRule, loadStages } from '../store/billing-rules.store.ts';
import type { BillingRuleRow, Database } from '../store/schema.ts';
import { BILLING_RULE_TYPES, classifySql, endOfStageIndex, stageOfType, type BillingRuleType, type Stage } from './billing-rule-stages.ts';
import { toDecimalString } from './decimal.ts';
import { errors } from './errors.ts';
import { newResourceToken, nowIso } from './tokens.ts';
import { checkName, parseDateish } from './validators.ts';

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
}

/** Which type-specific fields each rule type keeps; others sent for the type are ignored, never stored. */
const FIELDS_OF_TYPE: Record<BillingRuleType, ReadonlyArray<keyof BillingRuleInput>> = {
  exclusion: ['charge_type'],
  adjustment: ['percentage', 'service', 'category'],
  charge: ['service', 'category', 'sub_category', 'amount', 'start_period'],
  credit: ['service', 'category', 'sub_category', 'amount', 'start_period'],
  custom: ['sql_query'],
};

export interface Owner {
  id: number;
  /** Recorded as created_by_token. */
  actorToken: string;
}

export async function createBillingRule(db: Db, owner: Owner, input: BillingRuleInput): Promise<BillingRuleView> {
  const problems: string[] = [];
  const type = typeof input.type === 'string' ? (input.type.toLowerCase() as BillingRuleType) : undefined;
  if (input.type == null) problems.push('type is required');
  else if (!BILLING_RULE_TYPES.includes(type as BillingRuleType)) problems.push(`type must be one of ${BILLING_RULE_TYPES.join(', ')}`);
  const titleProblem = input.title == null ? 'title is required' : checkName('title', input.title);
  if (titleProblem) problems.push(titleProblem);

  const text = (field: 'charge_type' | 'service' | 'category' | 'sub_category' | 'sql_query', needed: boolean): string | null => {
    const value = input[field];
    if (value == null || value.trim() === '') {
      if (needed) problems.push(`${field} is required for ${type} rules`);
      return null;
    }
    return value;
  };
  const decimal = (field: 'percentage' | 'amount', needed: boolean, positive: boolean): string | null => {
    const value = input[field];
    if (value == null) {
      if (needed) problems.push(`${field} is required for ${type} rules`);
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
    const value = input[field];
    if (value == null) return null;
    if (!parseDateish(value)) {
      problems.push(`${field} must be a date (YYYY-MM-DD) or an ISO 8601 date-time`);
      return null;
    }
    return value;
  };

  const startDate = date('start_date');
  const endDate = date('end_date');
  if (startDate && endDate && (parseDateish(endDate) as Date) < (parseDateish(startDate) as Date)) {
    problems.push('end_date must be on or after start_date');
  }

  const values = {
    charge_type: null as string | null,
    percentage: null as string | null,
    service: null as string | null,
    category: null as string | null,
    sub_category: null as string | null,
    amount: null as string | null,
    start_period: null as string | null,
    sql_query: null as string | null,
  };
  let stage: Stage = 3;
  if (type && BILLING_RULE_TYPES.includes(type)) {
    const keeps = new Set(FIELDS_OF_TYPE[type]);
    if (keeps.has('charge_type')) values.charge_type = text('charge_type', type === 'exclusion');
    if (keeps.has('percentage')) values.percentage = decimal('percentage', true, false);
    if (keeps.has('service')) values.service = text('service', type === 'charge' || type === 'credit');
    if (keeps.has('category')) values.category = text('category', false);
    if (keeps.has('sub_category')) values.sub_category = text('sub_category', false);
    if (keeps.has('amount')) values.amount = decimal('amount', true, true);
    if (keeps.has('start_period')) values.start_period = date('start_period');
    if ((type === 'charge' || type === 'credit') && !startDate && !values.start_period) {
      problems.push(`start_date is required for ${type} rules`);
    }
    if (type === 'custom') {
      values.sql_query = text('sql_query', true);
      if (values.sql_query) {
        const classified = classifySql(values.sql_query);
        if ('error' in classified) problems.push(classified.error);
        else stage = classified.stage;
      }
    } else {
      stage = stageOfType(type);
    }
  }
  if (problems.length > 0 || !type || input.title == null) throw errors.invalid(...problems);

  return db.transaction().execute(async (trx) => {
    const row = await insertBillingRule(trx, owner.id, {
      token: newResourceToken('bllng_rule'),
      type,
      title: input.title as string,
      stage,
      apply_to_all: input.apply_to_all ? 1 : 0,
      ...values,
      start_date: startDate,
      end_date: endDate,
      created_by_token: owner.actorToken,
      created_at: nowIso(),
    });
    if (row.apply_to_all === 1) await attachToEveryManagedAccount(trx, owner.id, row);
    return billingRuleView(row);
  });
}

/** SPEC §4.5: an apply-to-all rule joins every existing managed account at the end of its stage. */
async function attachToEveryManagedAccount(db: Db, ownerId: number, rule: BillingRuleRow): Promise<void> {
  for (const accountId of await lockManagedAccounts(db, ownerId)) {
    const ids = await loadRuleIds(db, accountId);
    if (ids.includes(rule.id)) continue;
    const stages = await loadStages(db, ownerId, ids);
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
  };
}
