import { parseSql } from './sql-parser.ts';

/**
 * SPEC §4.6: rules run in four pipeline stages and a managed account's billing_rule_tokens must be grouped by
 * stage in this order. This file is the one place a rule's stage is decided: a table for the typed rules and
 * a real SQL parser for `custom` ones.
 */
export const STAGE_NAMES = {
  1: 'AWS transforms',
  2: 'COST inserts',
  3: 'COST transforms',
  4: 'monthly post-transform inserts',
} as const;
export type Stage = keyof typeof STAGE_NAMES;

export const BILLING_RULE_TYPES = ['exclusion', 'adjustment', 'credit', 'charge', 'custom'] as const;
export type BillingRuleType = (typeof BILLING_RULE_TYPES)[number];

const STAGE_OF_TYPE: Record<Exclude<BillingRuleType, 'custom'>, Stage> = {
  charge: 2,
  credit: 2,
  adjustment: 3,
  exclusion: 3,
};

type SqlClass = { stage: Stage } | { error: string };

/** Deeper nesting than this is refused before parsing: the parser's time grows exponentially with it. */
export const MAX_SQL_NESTING = 32;

/** Stage of a custom rule's SQL, or why it is not an allowed billing-rule statement. `owner` names the account. */
export async function classifySql(sql: string, owner: string): Promise<SqlClass> {
  if (nestingDepth(sql) > MAX_SQL_NESTING) return { error: `sql_query nests parentheses more than ${MAX_SQL_NESTING} levels deep; simplify it` };
  const parsed = await parseSql(sql, owner);
  if ('error' in parsed) return parsed;
  const ast = parsed.ast;
  const statements = (Array.isArray(ast) ? ast : [ast]) as Array<Record<string, unknown>>;
  if (statements.length !== 1 || !statements[0]) return { error: 'sql_query must contain exactly one statement' };
  const statement = statements[0];
  const kind = String(statement.type ?? '').toLowerCase();
  const allowed = 'sql_query must be an UPDATE or DELETE on aws or costs, or an INSERT INTO costs';

  if (kind === 'update' || kind === 'delete') {
    const tables = tableNames(kind === 'delete' ? (statement.from ?? statement.table) : statement.table);
    if (tables.length !== 1) return { error: `${allowed} (${kind.toUpperCase()} must name exactly one table)` };
    if (tables[0] === 'aws') return { stage: 1 };
    if (tables[0] === 'costs') return { stage: 3 };
    return { error: `${allowed} (got ${kind.toUpperCase()} on ${tables[0]})` };
  }
  if (kind === 'insert') {
    const tables = tableNames(statement.table);
    if (tables.length !== 1 || tables[0] !== 'costs') return { error: `${allowed} (INSERT may only target costs)` };
    // Inserts computed from already-adjusted monthly spend (SUM/CASE aggregates) run after the transforms.
    return { stage: containsAggregate(statement.values) ? 4 : 2 };
  }
  return { error: `${allowed} (got ${kind ? kind.toUpperCase() : 'an unknown statement'})` };
}

/** The deepest parenthesis nesting, counted over the whole text (quoted text included: a cheap upper bound). */
function nestingDepth(sql: string): number {
  let depth = 0;
  let deepest = 0;
  for (const c of sql) {
    if (c === '(') deepest = Math.max(deepest, ++depth);
    else if (c === ')') depth = Math.max(0, depth - 1);
  }
  return deepest;
}

function tableNames(list: unknown): string[] {
  const entries = Array.isArray(list) ? list : list ? [list] : [];
  return entries.map((t) => String((t as { table?: unknown }).table ?? '').toLowerCase());
}

function containsAggregate(node: unknown): boolean {
  if (!node || typeof node !== 'object') return false;
  const type = (node as { type?: unknown }).type;
  if (type === 'aggr_func' || type === 'case') return true;
  return Object.values(node).some(containsAggregate);
}

export function stageOfType(type: Exclude<BillingRuleType, 'custom'>): Stage {
  return STAGE_OF_TYPE[type];
}

/**
 * M5: position at which a rule of `stage` lands when slotted in at the end of its stage in an ordered list.
 */
export function endOfStageIndex(stages: readonly Stage[], stage: Stage): number {
  let index = 0;
  stages.forEach((s, i) => {
    if (s <= stage) index = i + 1;
  });
  return index;
}

/** M5: the first place where a list goes backwards through the stages, or null when correctly grouped. */
export function firstStageViolation(stages: readonly Stage[]): number | null {
  for (let i = 1; i < stages.length; i++) {
    if ((stages[i] as Stage) < (stages[i - 1] as Stage)) return i;
  }
  return null;
}
