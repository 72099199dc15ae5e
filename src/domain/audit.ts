import { isDeepStrictEqual } from 'node:util';
import type { Kysely } from 'kysely';
import * as store from '../store/audit-logs.store.ts';
import type { AuditLogRow, Database } from '../store/schema.ts';
import { errors } from './errors.ts';
import { parseDateish } from './validators.ts';
import { isResourceToken, newResourceToken, nowIso } from './tokens.ts';

type Db = Kysely<Database>;

/**
 * The audit log (issue 4): one record per change to a managed account, billing rule, integration, billing profile,
 * SSO connection or delegation, written in the change's own transaction, so a rejected request leaves none.
 * Records diff the wire views (what the API returns) before and after the change; docs/api-audit-logs.md.
 */

/** Who made a change. The values are copied into the record, so it outlives the token or client. */
export interface Actor {
  tokenId: number | null;
  /** The token's description, or `steward CLI`. */
  name: string | null;
  oauthClientId: string | null;
  source: 'api' | 'cli';
}

/** Every change made by a `steward` command (or the demo seed) is recorded as this actor. */
export const CLI_ACTOR: Actor = { tokenId: null, name: 'steward CLI', oauthClientId: null, source: 'cli' };

/** object_type as recorded, by the snake_case name the `object_type` filter accepts. */
export const OBJECT_TYPES = {
  managed_account: 'ManagedAccount',
  billing_rule: 'BillingRule',
  integration: 'Integration',
  billing_profile: 'BillingProfile',
  sso_connection: 'SsoConnection',
  managed_account_integration: 'ManagedAccountIntegration',
} as const;
export type ObjectType = (typeof OBJECT_TYPES)[keyof typeof OBJECT_TYPES];
/** The contract's own object_type filter values (SPEC §8): accepted, and match nothing Steward records. */
export const CONTRACT_OBJECT_TYPES = ['virtual_tag', 'cost_report', 'recommendation_commitment', 'segment'] as const;

export const ACTIONS = { create: 'record_created', update: 'record_updated', delete: 'record_destroyed' } as const;
export type AuditEvent = (typeof ACTIONS)[keyof typeof ACTIONS];
/** Steward records `api` and `cli`; the contract's other sources are accepted as filters and match nothing. */
export const SOURCES = ['api', 'cli', 'console', 'finops_agent'] as const;

/** What stands in for a secret's value: a change to it is visible, the value never is. */
export const FILTERED = '[FILTERED]';
/** Keys whose values are secrets wherever they appear in a view (banking secure data, integration credentials). */
const SECRET_KEYS: ReadonlySet<string> = new Set(['secure_data', 'password', 'secret', 'client_secret']);

/** A wire view: the object as the API returns it (plus, for a secret the API never returns, its key with FILTERED). */
export type AuditView = object;

export interface AuditChange {
  objectType: ObjectType;
  objectToken: string | null;
  objectTitle: string | null;
  event: AuditEvent;
  /** null for record_created. */
  before: AuditView | null;
  /** null for record_destroyed. */
  after: AuditView | null;
}

/**
 * Writes one record in the caller's transaction. created: every field as [null, new]; destroyed: every field as
 * [old, null]; updated: [old, new] for the fields whose value differs and {field: value} for the rest (an update that
 * changes nothing is still recorded, with empty changed_values: the request happened). Secrets are FILTERED.
 */
export async function recordAudit(trx: Db, accountId: number, actor: Actor, change: AuditChange): Promise<void> {
  const { changed, unchanged } = diff(change.before, change.after);
  await store.insertAuditLog(trx, accountId, {
    token: newResourceToken('adt_lg'),
    object_type: change.objectType,
    object_token: change.objectToken,
    object_title: change.objectTitle,
    event: change.event,
    source: actor.source,
    actor_token_id: actor.tokenId,
    actor_name: actor.name,
    actor_oauth_client_id: actor.oauthClientId,
    changed_values: JSON.stringify(changed),
    unchanged_values: JSON.stringify(unchanged),
    created_at: nowIso(),
  });
}

type Values = Record<string, unknown>;

export function diff(before: AuditView | null, after: AuditView | null): { changed: Values; unchanged: Values } {
  const old = (before ?? {}) as Values;
  const now = (after ?? {}) as Values;
  const changed: Values = {};
  const unchanged: Values = {};
  for (const key of new Set([...Object.keys(old), ...Object.keys(now)])) {
    const [was, is] = [old[key] ?? null, now[key] ?? null];
    // Secrets are compared in the clear (a re-sealed but equal value is no change), then only ever written FILTERED.
    if (before !== null && after !== null && isDeepStrictEqual(was, is)) unchanged[key] = filtered(key, is);
    else changed[key] = [before === null ? null : filtered(key, was), after === null ? null : filtered(key, is)];
  }
  return { changed, unchanged };
}

/** The value with every secret inside it (at any depth) replaced by FILTERED; null stays null. */
function filtered(key: string, value: unknown): unknown {
  if (value === null) return null;
  if (SECRET_KEYS.has(key)) return FILTERED;
  if (Array.isArray(value)) return value.map((item) => filtered('', item));
  if (typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, filtered(k, v)]));
  return value;
}

/** The wire shape of a record (the contract's AuditLog). */
export interface AuditLogView {
  token: string;
  object_token: string | null;
  object_type: string;
  object_title: string | null;
  event: AuditEvent;
  source: string;
  user: string | null;
  workspace_title: string | null;
  workspace_token: string | null;
  created_at: string;
  changed_values: Values;
  unchanged_values: Values;
}

/** SPEC §8 filters as the route passes them (types already checked by the route's schema). */
export interface AuditLogQuery {
  user?: number;
  action?: keyof typeof ACTIONS;
  object_type?: string;
  object_token?: string;
  token?: string;
  object_name?: string;
  source?: string;
  workspace_token?: string;
  start_date?: string;
  end_date?: string;
}

export async function listAuditLogs(
  db: Db,
  accountId: number,
  query: AuditLogQuery,
  page: { page: number; limit: number },
): Promise<{ items: AuditLogView[]; total: number }> {
  const filter = checkQuery(query);
  if (filter === null) return { items: [], total: 0 };
  const { rows, total } = await store.listAuditLogs(db, accountId, filter, { offset: (page.page - 1) * page.limit, limit: page.limit });
  return { items: rows.map(auditLogView), total };
}

export async function getAuditLog(db: Db, accountId: number, token: string): Promise<AuditLogView> {
  const row = isResourceToken('adt_lg', token) ? await store.findAuditLog(db, accountId, token) : undefined;
  if (!row) throw errors.notFound('Audit log');
  return auditLogView(row);
}

/** The store filter for a query, or null when the query can match nothing Steward records (a contract-only value). */
function checkQuery(query: AuditLogQuery): store.AuditLogFilter | null {
  const problems: string[] = [];
  const from = query.start_date === undefined ? undefined : dateOrProblem(problems, 'start_date', query.start_date);
  const to = query.end_date === undefined ? undefined : dateOrProblem(problems, 'end_date', query.end_date);
  if (from && to && to < from) problems.push(`end_date must be on or after start_date (${query.start_date})`);
  if (problems.length > 0) throw errors.invalid(...problems);

  const objectType = query.object_type === undefined ? undefined : (OBJECT_TYPES as Record<string, string>)[query.object_type];
  // Steward records no workspace, and only its own object types and sources.
  if (query.workspace_token !== undefined || (query.object_type !== undefined && objectType === undefined)) return null;
  if (query.source !== undefined && query.source !== 'api' && query.source !== 'cli') return null;
  return {
    actorTokenId: query.user,
    event: query.action === undefined ? undefined : ACTIONS[query.action],
    objectType,
    objectToken: query.object_token,
    token: query.token,
    objectTitle: query.object_name,
    source: query.source,
    createdFrom: from?.toISOString().slice(0, 10),
    // end_date is inclusive: everything before the start of the next day.
    createdBefore: to && new Date(to.getTime() + 86_400_000).toISOString().slice(0, 10),
  };
}

/** A calendar date as YYYY-MM-DD (UTC), or a problem naming the parameter. */
function dateOrProblem(problems: string[], name: string, value: string): Date | undefined {
  const date = value.length === 10 ? parseDateish(value) : null;
  if (date) return date;
  problems.push(`${name} must be a date written as YYYY-MM-DD, such as 2024-06-01`);
  return undefined;
}

function auditLogView(row: AuditLogRow): AuditLogView {
  return {
    token: row.token,
    object_token: row.object_token,
    object_type: row.object_type,
    object_title: row.object_title,
    event: row.event,
    source: row.source,
    user: userOf(row),
    workspace_title: null,
    workspace_token: null,
    created_at: row.created_at,
    changed_values: JSON.parse(row.changed_values) as Values,
    unchanged_values: JSON.parse(row.unchanged_values) as Values,
  };
}

/** `terraform (API token 12)`, `OAuth client stw_client_… (API token 40)`, `API token 7` (no description), `steward CLI`. */
function userOf(row: AuditLogRow): string | null {
  const who = row.actor_oauth_client_id !== null ? `OAuth client ${row.actor_oauth_client_id}` : row.actor_name;
  if (row.actor_token_id === null) return who;
  return who === null ? `API token ${row.actor_token_id}` : `${who} (API token ${row.actor_token_id})`;
}
