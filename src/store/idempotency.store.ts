import type { Kysely } from 'kysely';
import type { Database, IdempotencyKeyRow } from './schema.ts';

type Db = Kysely<Database>;

/**
 * R2: idempotency keys, scoped by the API token that sent them (the owner, first argument of every function but
 * the expiry sweep). A row with status null is a claim: its request is running, and its process refreshes
 * heartbeat_at meanwhile. A claim is named by (id, created_at), so a process whose claim was taken over can no
 * longer complete, release or refresh it.
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
    .values({ ...values, api_token_id: tokenId, status: null, response_body: null, response_headers: null, heartbeat_at: values.created_at })
    .returning(['id', 'created_at'])
    .executeTakeFirstOrThrow();
  return { id: row.id, createdAt: row.created_at };
}

export async function findIdempotencyKey(db: Db, tokenId: number, key: string): Promise<IdempotencyKeyRow | undefined> {
  return db.selectFrom('idempotency_keys').selectAll().where('api_token_id', '=', tokenId).where('key', '=', key).executeTakeFirst();
}

/**
 * Turns a row back into a fresh claim, only if it is still exactly as the caller saw it (same created_at, status
 * and heartbeat): of several processes trying at once, one wins, and a claim whose holder has just refreshed its
 * heartbeat is not taken.
 */
export async function retakeIdempotencyKey(
  db: Db,
  tokenId: number,
  seen: Pick<IdempotencyKeyRow, 'id' | 'created_at' | 'status' | 'heartbeat_at'>,
  values: { request_hash: string; created_at: string },
): Promise<boolean> {
  const result = await db
    .updateTable('idempotency_keys')
    .set({ ...values, status: null, response_body: null, response_headers: null, heartbeat_at: values.created_at })
    .where('api_token_id', '=', tokenId)
    .where('id', '=', seen.id)
    .where('created_at', '=', seen.created_at)
    .where('status', seen.status === null ? 'is' : '=', seen.status)
    .where('heartbeat_at', seen.heartbeat_at === null ? 'is' : '=', seen.heartbeat_at)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Marks a claim still held as alive at `at`; false when it was completed, released or taken over meanwhile. */
export async function refreshIdempotencyHeartbeat(db: Db, tokenId: number, claim: IdempotencyClaimRef, at: string): Promise<boolean> {
  const result = await db
    .updateTable('idempotency_keys')
    .set({ heartbeat_at: at })
    .where('api_token_id', '=', tokenId)
    .where('id', '=', claim.id)
    .where('created_at', '=', claim.createdAt)
    .where('status', 'is', null)
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

/**
 * Housekeeping across every token (the one store function here without an owner): removes the keys created before
 * `before` (ISO-8601), which can no longer be replayed. Uses the created_at index.
 */
export async function deleteIdempotencyKeysBefore(db: Db, before: string): Promise<void> {
  await db.deleteFrom('idempotency_keys').where('created_at', '<', before).execute();
}
