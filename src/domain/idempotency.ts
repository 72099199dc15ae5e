import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { uniqueViolation } from '../store/errors.ts';
import {
  completeIdempotencyClaim,
  deleteIdempotencyKeysBefore,
  findIdempotencyKey,
  insertIdempotencyClaim,
  releaseIdempotencyClaim,
  retakeIdempotencyKey,
  type IdempotencyClaimRef,
} from '../store/idempotency.store.ts';
import type { Database, IdempotencyKeyRow } from '../store/schema.ts';
import { errors } from './errors.ts';

/** R2: a stored response is replayed for 24 hours; after that the key is free again. */
export const REPLAY_WINDOW_SECONDS = 24 * 3600;
/**
 * A claim with no response after this long belongs to a process that died mid-request (requests finish in
 * seconds), so a retry may take it over instead of getting 409 for a whole day.
 */
export const ABANDONED_CLAIM_SECONDS = 60;

/** Visible ASCII only: no spaces, control characters or anything that could be confused in a log line. */
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** The header's value, or undefined when it was not sent. Repeated headers arrive joined by ", ", and fail. */
export function parseIdempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== 'string' || !KEY_PATTERN.test(header)) throw errors.invalidIdempotencyKey();
  return header;
}

/** What makes two requests "the same": method, target (path and query) and body, with object keys sorted. */
export function idempotencyRequestHash(request: { method: string; url: string; body: unknown }): string {
  return createHash('sha256')
    .update(JSON.stringify([request.method, request.url, canonical(request.body ?? null)]))
    .digest('hex');
}

/** Key order is not part of a JSON object's meaning, so a client that re-serialises its body still matches. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
  );
}

/** A claim held by the running request: completed with its response or released when it fails. */
export interface IdempotencyClaim extends IdempotencyClaimRef {
  tokenId: number;
}

export interface StoredResponse {
  status: number;
  body: string;
  contentType: string | null;
}

export type ClaimOutcome = { kind: 'claimed'; claim: IdempotencyClaim } | { kind: 'replay'; response: StoredResponse };

const CLAIM_ATTEMPTS = 3;

/**
 * Claims `key` for this token before the request runs. The insert relies on the unique (api_token_id, key)
 * constraint, so of concurrent requests with one key exactly one runs. Otherwise: a different request with the
 * key → 400; its stored response → replay; still running → 409; abandoned or expired → taken over.
 */
export async function claimIdempotencyKey(db: Kysely<Database>, tokenId: number, key: string, requestHash: string): Promise<ClaimOutcome> {
  await deleteIdempotencyKeysBefore(db, tokenId, isoSecondsAgo(REPLAY_WINDOW_SECONDS));
  for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
    const createdAt = isoSecondsAgo(0);
    try {
      const ref = await insertIdempotencyClaim(db, tokenId, { key, request_hash: requestHash, created_at: createdAt });
      return { kind: 'claimed', claim: { ...ref, tokenId } };
    } catch (error) {
      if (!uniqueViolation(error)) throw error;
    }
    const existing = await findIdempotencyKey(db, tokenId, key);
    if (!existing) continue; // released (its request failed) since our insert: claim again
    const decision = decide(existing, requestHash);
    if (decision.kind !== 'retake') return decision;
    if (await retakeIdempotencyKey(db, tokenId, existing, { request_hash: requestHash, created_at: createdAt })) {
      return { kind: 'claimed', claim: { id: existing.id, createdAt, tokenId } };
    }
    // Another request retook it first: look again.
  }
  throw errors.idempotencyInProgress();
}

function decide(existing: IdempotencyKeyRow, requestHash: string): { kind: 'retake' } | Extract<ClaimOutcome, { kind: 'replay' }> {
  if (existing.created_at < isoSecondsAgo(REPLAY_WINDOW_SECONDS)) return { kind: 'retake' };
  if (existing.request_hash !== requestHash) throw errors.idempotencyKeyReused(existing.key);
  if (existing.status !== null) {
    const headers = JSON.parse(existing.response_headers ?? '{}') as { 'content-type'?: string };
    return { kind: 'replay', response: { status: existing.status, body: existing.response_body ?? '', contentType: headers['content-type'] ?? null } };
  }
  if (existing.created_at >= isoSecondsAgo(ABANDONED_CLAIM_SECONDS)) throw errors.idempotencyInProgress();
  return { kind: 'retake' };
}

/**
 * Ends a claim with the response the client gets. Responses below 500 are kept for replay; a 5xx (or a body that
 * cannot be stored) releases the key so a retry runs again. False when the claim had been taken over meanwhile.
 */
export async function finishIdempotencyClaim(db: Kysely<Database>, claim: IdempotencyClaim, response: StoredResponse | null): Promise<boolean> {
  if (response === null || response.status >= 500) {
    await releaseIdempotencyClaim(db, claim.tokenId, claim);
    return true;
  }
  return completeIdempotencyClaim(db, claim.tokenId, claim, {
    status: response.status,
    response_body: response.body,
    response_headers: JSON.stringify(response.contentType === null ? {} : { 'content-type': response.contentType }),
  });
}

/** W9 timestamps (UTC, second precision), which compare correctly as text. */
function isoSecondsAgo(seconds: number): string {
  return new Date(Date.now() - seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
