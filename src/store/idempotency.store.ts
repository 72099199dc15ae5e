import type { Kysely } from 'kysely';
import type { Database, IdempotencyKeyRow } from './schema.ts';

type Db = Kysely<Database>;

/**
 * R2: idempotency keys, scoped by the API token that sent them (the owner, first argument of every function).
 * A row with status null is a claim: its request is running. A claim is named by (id, created_at), so a process
 * whose claim was taken over can no longer complete or release it.
 */
export interface IdempotencyClaimRef {
  id: number;
  createdAt: string;
}

/** Inserts a claim; throws the dialect's unique violation when the token already used this key. */
export async function insertIdempotencyClaim(
  db: Db,
  tokenId: number,
  values: { key: string; request_hash: string; created_at: string },
): Promise<IdempotencyClaimRef> {
  const row = await db
    .insertInto('idempotency_keys')
    .values({ ...values, api_token_id: tokenId, status: null, response_body: null, response_headers: null })
    .returning(['id', 'created_at'])
    .executeTakeFirstOrThrow();
  return { id: row.id, createdAt: row.created_at };
}

export async function findIdempotencyKey(db: Db, tokenId: number, key: string): Promise<IdempotencyKeyRow | undefined> {
  return db.selectFrom('idempotency_keys').selectAll().where('api_token_id', '=', tokenId).where('key', '=', key).executeTakeFirst();
}

/**
 * Turns a row back into a fresh claim, only if it is still exactly as the caller saw it (same created_at and
 * status): of several processes trying at once, one wins.
 */
export async function retakeIdempotencyKey(
  db: Db,
  tokenId: number,
  seen: Pick<IdempotencyKeyRow, 'id' | 'created_at' | 'status'>,
  values: { request_hash: string; created_at: string },
): Promise<boolean> {
  const result = await db
    .updateTable('idempotency_keys')
    .set({ ...values, status: null, response_body: null, response_headers: null })
    .where('api_token_id', '=', tokenId)
    .where('id', '=', seen.id)
    .where('created_at', '=', seen.created_at)
    .where('status', seen.status === null ? 'is' : '=', seen.status)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Stores the response of a claim still held; false when it was taken over meanwhile. */
export async function completeIdempotencyClaim(
  db: Db,
  tokenId: number,
  claim: IdempotencyClaimRef,
  response: { status: number; response_body: string; response_headers: string },
): Promise<boolean> {
  const result = await db
    .updateTable('idempotency_keys')
    .set(response)
    .where('api_token_id', '=', tokenId)
    .where('id', '=', claim.id)
    .where('created_at', '=', claim.createdAt)
    .where('status', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Drops a claim still held, so a retry with the same key runs again. */
export async function releaseIdempotencyClaim(db: Db, tokenId: number, claim: IdempotencyClaimRef): Promise<void> {
  await db
    .deleteFrom('idempotency_keys')
    .where('api_token_id', '=', tokenId)
    .where('id', '=', claim.id)
    .where('created_at', '=', claim.createdAt)
    .where('status', 'is', null)
    .execute();
}

/** Removes this token's keys created before `before` (ISO-8601): they can no longer be replayed. */
export async function deleteIdempotencyKeysBefore(db: Db, tokenId: number, before: string): Promise<void> {
  await db.deleteFrom('idempotency_keys').where('api_token_id', '=', tokenId).where('created_at', '<', before).execute();
}
