import type { Insertable, Kysely } from 'kysely';
import type { AuditLogRow, AuditLogsTable, Database } from './schema.ts';

type Db = Kysely<Database>;

/** Audit records belong to the account whose change they record; every function takes that account's id first. */

export async function insertAuditLog(db: Db, accountId: number, values: Omit<Insertable<AuditLogsTable>, 'id' | 'account_id'>): Promise<void> {
  await db.insertInto('audit_logs').values({ ...values, account_id: accountId }).execute();
}

/** Column filters; each one given narrows the list (all of them must hold). */
export interface AuditLogFilter {
  actorTokenId?: number;
  event?: AuditLogRow['event'];
  objectType?: string;
  objectToken?: string;
  token?: string;
  objectTitle?: string;
  source?: string;
  /** created_at ≥ this (ISO text compares in time order). */
  createdFrom?: string;
  /** created_at < this. */
  createdBefore?: string;
}

/**
 * M7: oldest first. Ids only grow, so id order is insertion order (and created_at order within it); it is also what
 * the (account_id, id) index serves, and pages walked while changes are recorded never repeat or skip.
 */
export async function listAuditLogs(
  db: Db,
  accountId: number,
  filter: AuditLogFilter,
  page: { offset: number; limit: number },
): Promise<{ rows: AuditLogRow[]; total: number }> {
  const base = db
    .selectFrom('audit_logs')
    .where('account_id', '=', accountId)
    .$if(filter.actorTokenId !== undefined, (q) => q.where('actor_token_id', '=', filter.actorTokenId as number))
    .$if(filter.event !== undefined, (q) => q.where('event', '=', filter.event as AuditLogRow['event']))
    .$if(filter.objectType !== undefined, (q) => q.where('object_type', '=', filter.objectType as string))
    .$if(filter.objectToken !== undefined, (q) => q.where('object_token', '=', filter.objectToken as string))
    .$if(filter.token !== undefined, (q) => q.where('token', '=', filter.token as string))
    .$if(filter.objectTitle !== undefined, (q) => q.where('object_title', '=', filter.objectTitle as string))
    .$if(filter.source !== undefined, (q) => q.where('source', '=', filter.source as string))
    .$if(filter.createdFrom !== undefined, (q) => q.where('created_at', '>=', filter.createdFrom as string))
    .$if(filter.createdBefore !== undefined, (q) => q.where('created_at', '<', filter.createdBefore as string));
  const [rows, count] = await Promise.all([
    base.selectAll().orderBy('id').limit(page.limit).offset(page.offset).execute(),
    base.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

/** One of the account's records; another account's reads as absent (A5). */
export async function findAuditLog(db: Db, accountId: number, token: string): Promise<AuditLogRow | undefined> {
  return db.selectFrom('audit_logs').selectAll().where('account_id', '=', accountId).where('token', '=', token).executeTakeFirst();
}
