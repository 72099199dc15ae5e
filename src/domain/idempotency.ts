import type { Kysely } from 'kysely';
import { uniqueViolation } from '../store/errors.ts';
import {
  completeIdempotencyClaim,
  deleteIdempotencyKeysBefore,
  findIdempotencyKey,
  insertIdempotencyClaim,
  releaseIdempotencyClaim,
  refreshIdempotencyHeartbeat,
  retakeIdempotencyKey,
  type IdempotencyClaimRef,
} from '../store/idempotency.store.ts';
import type { Database, IdempotencyKeyRow } from '../store/schema.ts';
import { errors } from './errors.ts';
import type { SecretBox } from './secret-box.ts';
import { isoSeconds } from './tokens.ts';

/** R2: a stored response is replayed for 24 hours from the first claim; after that the key is free again. */
export const REPLAY_WINDOW_SECONDS = 24 * 3600;

/** How claims stay alive and how often expired keys are swept. Tests shorten these to run in seconds. */
export interface IdempotencyTiming {
  /** How often the process running a request refreshes its claim's heartbeat. */
  heartbeatMs: number;
  /**
   * A running claim whose heartbeat is older than this belongs to a process that is gone (it died, or its event
   * loop has been stuck that long), so a retry may take it over instead of getting 409 for a whole day. A request
   * may run for any length of time as long as its process keeps the heartbeat fresh.
   */
  abandonedAfterSeconds: number;
  /** Expired keys of every token are deleted at most this often per process. */
  sweepEverySeconds: number;
  /** When storing (or releasing) a finished claim fails (a busy database), how often to try again in the background… */
  finishRetryMs: number;
  /** …and for how long, with the claim's heartbeat kept fresh meanwhile so no retry runs the request again. */
  finishRetryForMs: number;
}

/** Defaults: about four missed heartbeats before a claim counts as abandoned. */
export const IDEMPOTENCY_TIMING: Readonly<IdempotencyTiming> = {
  heartbeatMs: 15_000,
  abandonedAfterSeconds: 60,
  sweepEverySeconds: 60,
  finishRetryMs: 2_000,
  finishRetryForMs: 10 * 60_000,
};

/** Visible ASCII only: no spaces, control characters or anything that could be confused in a log line. */
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** The header's value, or undefined when it was not sent. Repeated headers arrive joined by ", ", and fail. */
export function parseIdempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== 'string' || !KEY_PATTERN.test(header)) throw errors.invalidIdempotencyKey();
  return header;
}

/**
 * What makes two requests "the same": method, target (path and query) and body, with object keys sorted. Keyed
 * (the body may carry banking data or passwords), so the stored digest cannot confirm a guess offline.
 */
export function idempotencyRequestHash(secrets: SecretBox, request: { method: string; url: string; body: unknown }): string {
  return secrets.mac('idempotency_keys.request_hash', JSON.stringify([request.method, request.url, canonical(request.body ?? null)]));
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

/** What the idempotency rules work with: the database, the box that seals stored bodies, and the timing. */
export interface IdempotencyDeps {
  db: Kysely<Database>;
  /** Where heartbeats are written: a connection requests cannot exhaust (Store.upkeep), so a busy pool is not a takeover. */
  heartbeatDb?: Kysely<Database>;
  secrets: SecretBox;
  timing: Readonly<IdempotencyTiming>;
}

const CLAIM_ATTEMPTS = 3;

/**
 * Claims `key` for this token before the request runs. The insert relies on the unique (api_token_id, key)
 * constraint, so of concurrent requests with one key exactly one runs. Otherwise: a different request with the
 * key → 400; its stored response → replay; still running → 409; abandoned or expired → taken over.
 */
export async function claimIdempotencyKey(deps: IdempotencyDeps, tokenId: number, key: string, requestHash: string): Promise<ClaimOutcome> {
  const { db } = deps;
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
    const decision = decide(deps, existing, requestHash);
    if (decision.kind !== 'retake') return decision;
    if (await retakeIdempotencyKey(db, tokenId, existing, { request_hash: requestHash, created_at: createdAt })) {
      return { kind: 'claimed', claim: { id: existing.id, createdAt, tokenId } };
    }
    // Another request retook it first, or its holder refreshed its heartbeat: look again.
  }
  throw errors.idempotencyInProgress();
}

function decide(deps: IdempotencyDeps, existing: IdempotencyKeyRow, requestHash: string): { kind: 'retake' } | Extract<ClaimOutcome, { kind: 'replay' }> {
  if (existing.created_at < isoSecondsAgo(REPLAY_WINDOW_SECONDS)) return { kind: 'retake' };
  if (existing.request_hash !== requestHash) throw errors.idempotencyKeyReused(existing.key);
  if (existing.status !== null) {
    const headers = JSON.parse(existing.response_headers ?? '{}') as { 'content-type'?: string };
    const body = existing.response_body === null ? '' : deps.secrets.open(bodyPurpose(existing), existing.response_body);
    return { kind: 'replay', response: { status: existing.status, body, contentType: headers['content-type'] ?? null } };
  }
  // Every claim is made with a heartbeat; a row without one (written by hand) counts from the claim.
  const lastAlive = existing.heartbeat_at ?? existing.created_at;
  if (lastAlive >= isoSecondsAgo(deps.timing.abandonedAfterSeconds)) throw errors.idempotencyInProgress();
  return { kind: 'retake' };
}

/** Binds a sealed body to its row, so a body copied into another row (or column) does not open. */
const bodyPurpose = (row: { id: number; api_token_id: number }) => `idempotency_keys.response_body:${row.api_token_id}:${row.id}`;

/**
 * Keeps a claim alive while its request runs: refreshes its heartbeat every `timing.heartbeatMs` until `stop()`
 * is called or the claim is no longer held. The timer never keeps the process alive. A failed refresh is reported
 * and retried on the next beat; if refreshes keep failing, the claim is taken over after abandonedAfterSeconds.
 */
export function keepIdempotencyClaimAlive(deps: IdempotencyDeps, claim: IdempotencyClaim, onError: (error: unknown) => void): { stop(): void } {
  let refreshing = false; // a slow database must not pile up overlapping refreshes
  const timer = setInterval(() => {
    if (refreshing) return;
    refreshing = true;
    refreshIdempotencyHeartbeat(deps.heartbeatDb ?? deps.db, claim.tokenId, claim, isoSecondsAgo(0))
      .then((held) => {
        if (!held) clearInterval(timer); // finished, released or taken over: nothing left to keep alive
      }, onError)
      .finally(() => (refreshing = false));
  }, deps.timing.heartbeatMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/**
 * Answers that say "not now" rather than answer the request: busy (429, e.g. the SQL checker), a concurrent
 * deletion (409) and server errors. They release the key, so a retry after Retry-After runs the request again.
 */
const retryable = (status: number) => status === 409 || status === 429 || status >= 500;

/**
 * Ends a claim with the response the client gets. Final responses are kept for replay, the body sealed (it may
 * carry secrets); a retryable one (or a body that cannot be stored) releases the key so a retry runs again. False
 * when the claim had been taken over meanwhile.
 */
export async function finishIdempotencyClaim(deps: IdempotencyDeps, claim: IdempotencyClaim, response: StoredResponse | null): Promise<boolean> {
  if (response === null || retryable(response.status)) {
    await releaseIdempotencyClaim(deps.db, claim.tokenId, claim);
    return true;
  }
  return completeIdempotencyClaim(deps.db, claim.tokenId, claim, {
    status: response.status,
    response_body: deps.secrets.seal(bodyPurpose({ id: claim.id, api_token_id: claim.tokenId }), response.body),
    response_headers: JSON.stringify(response.contentType === null ? {} : { 'content-type': response.contentType }),
  });
}

/**
 * Deletes expired keys of every token, at most once per `timing.sweepEverySeconds` for each sweeper (one per app):
 * keys of tokens that never send another request (short-lived OAuth tokens) do not stay forever.
 */
export function expiredIdempotencyKeySweeper(deps: IdempotencyDeps): () => Promise<void> {
  let lastSweep = -Infinity;
  return async () => {
    if (Date.now() - lastSweep < deps.timing.sweepEverySeconds * 1000) return;
    lastSweep = Date.now();
    await deleteIdempotencyKeysBefore(deps.db, isoSecondsAgo(REPLAY_WINDOW_SECONDS));
  };
}

/** W9 timestamps (UTC, second precision), which compare correctly as text. */
function isoSecondsAgo(seconds: number): string {
  return isoSeconds(new Date(Date.now() - seconds * 1000));
}
