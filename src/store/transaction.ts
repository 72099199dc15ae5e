import { PostgresAdapter, type Kysely } from 'kysely';
import type { Database } from './schema.ts';

type Db = Kysely<Database>;

/** Postgres gave up on one of two transactions that wait for each other, or could not serialise it: safe to rerun. */
export function isTransientConflict(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

const ATTEMPTS = 4;

/**
 * Runs `work` in one transaction (or in the caller's, when `db` already is one). When Postgres aborts it as a
 * deadlock victim or a serialisation failure, nothing of it was committed, so it is run again (up to 4 times,
 * with a short random pause) instead of answering 500 for a request that did nothing wrong.
 */
export async function inTransaction<T>(db: Db, work: (trx: Db) => Promise<T>): Promise<T> {
  if (db.isTransaction) return work(db);
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction().execute(work);
    } catch (error) {
      if (attempt >= ATTEMPTS || !isTransientConflict(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * attempt));
    }
  }
}

/**
 * Whether SELECT … FOR UPDATE / FOR SHARE means anything here: Postgres takes row locks; SQLite needs none, as
 * every write transaction there already holds the database's write lock (BEGIN IMMEDIATE, see database.ts).
 */
export function takesRowLocks(db: Db): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}
