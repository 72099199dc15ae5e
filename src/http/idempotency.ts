import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  claimIdempotencyKey,
  expiredIdempotencyKeySweeper,
  finishIdempotencyClaim,
  IDEMPOTENCY_TIMING,
  idempotencyRequestHash,
  keepIdempotencyClaimAlive,
  parseIdempotencyKey,
  type IdempotencyClaim,
  type IdempotencyDeps,
  type IdempotencyTiming,
} from '../domain/idempotency.ts';
import { errors } from '../domain/errors.ts';
import type { Store } from '../store/database.ts';
import type { SecretBox } from '../domain/secret-box.ts';
import { principalOf } from './auth.ts';
import { timesSent } from './headers.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * This app's claim heartbeat, takeover and sweep intervals (IDEMPOTENCY_TIMING). Read on every request, so a
     * test can shorten them on the app it built; nothing else changes them.
     */
    readonly idempotencyTiming: IdempotencyTiming;
  }
  interface FastifyRequest {
    /** Set while this request holds an Idempotency-Key claim; onSend completes or releases it. */
    idempotencyClaim?: HeldClaim;
  }
}

interface HeldClaim {
  claim: IdempotencyClaim;
  heartbeat: { stop(): void };
}

const WRITES = new Set(['POST', 'PUT', 'DELETE']);

/**
 * R2: `Idempotency-Key` on authenticated writes. Runs as a preHandler, after authentication and validation, so
 * only a request that would run claims its key (a request refused with 400 leaves the key unused). A repeat of a
 * finished request gets its stored response with `idempotent-replayed: true`, and the handler does not run. While
 * the request runs, its process keeps the claim's heartbeat fresh, so a retry gets 409 however long it takes.
 */
export function registerIdempotency(app: FastifyInstance, store: Pick<Store, 'db' | 'upkeep'>, secrets: SecretBox): void {
  const timing: IdempotencyTiming = { ...IDEMPOTENCY_TIMING };
  app.decorate('idempotencyTiming', timing);
  const deps: IdempotencyDeps = { db: store.db, heartbeatDb: store.upkeep, secrets, timing };
  const sweepExpiredKeys = expiredIdempotencyKeySweeper(deps);
  const held = new Set<HeldClaim>();

  app.addHook('preHandler', async (request, reply) => {
    if (!WRITES.has(request.method) || !request.routeOptions.config.auth) return;
    // Node joins repeated headers with ", ", which would otherwise read as one key with a space in it.
    if (timesSent(request, 'idempotency-key') > 1) {
      throw errors.invalid('send exactly one Idempotency-Key header');
    }
    const key = parseIdempotencyKey(request.headers['idempotency-key']);
    if (key === undefined) return;
    await sweepExpiredKeys().catch((error: unknown) => request.log.error({ err: error }, 'could not delete expired Idempotency-Keys'));
    const hash = idempotencyRequestHash(deps.secrets, { method: request.method, url: request.url, body: request.body });
    const outcome = await claimIdempotencyKey(deps, principalOf(request).tokenId, key, hash);
    if (outcome.kind === 'claimed') {
      const heartbeat = keepIdempotencyClaimAlive(deps, outcome.claim, (error) =>
        request.log.warn({ err: error }, 'could not refresh the heartbeat of an Idempotency-Key claim'),
      );
      request.idempotencyClaim = { claim: outcome.claim, heartbeat };
      held.add(request.idempotencyClaim);
      return;
    }
    const { status, body, contentType } = outcome.response;
    if (contentType !== null) reply.header('content-type', contentType);
    return reply.code(status).header('idempotent-replayed', 'true').send(body);
  });

  /**
   * The request has stopped running: no more heartbeats. Not on a client abort (onRequestAbort): the handler keeps
   * running after the client hangs up, and a retry must not take the claim over meanwhile.
   */
  const letGo = (request: FastifyRequest): IdempotencyClaim | undefined => {
    const current = request.idempotencyClaim;
    if (!current) return undefined;
    request.idempotencyClaim = undefined;
    current.heartbeat.stop();
    held.delete(current);
    return current.claim;
  };

  // onSend sees every response, the handler's and the error handler's alike, before the client does: a retry
  // that follows the response always finds it stored.
  app.addHook('onSend', async (request, reply, payload) => {
    const claim = letGo(request);
    if (!claim) return payload;
    const body = typeof payload === 'string' ? payload : payload === null || payload === undefined ? '' : null;
    const contentType = reply.getHeader('content-type');
    const response = body === null ? null : { status: reply.statusCode, body, contentType: typeof contentType === 'string' ? contentType : null };
    try {
      const kept = await finishIdempotencyClaim(deps, claim, response);
      if (!kept) request.log.warn('Idempotency-Key claim was taken over before this request finished; its response is not stored');
    } catch (error) {
      // The database is busy or unreachable. Answer the client now; keep the claim alive (a retry gets 409, not a
      // second run of a change that may be committed) and keep trying to store (or release) it in the background.
      request.log.error({ err: error }, 'could not store the response for Idempotency-Key; retrying in the background');
      finishLater(claim, response, request.log);
    }
    return payload;
  });

  /** Retries finishing a claim every finishRetryMs, with its heartbeat kept fresh meanwhile, for up to finishRetryForMs. */
  const finishLater = (claim: IdempotencyClaim, response: Parameters<typeof finishIdempotencyClaim>[2], log: FastifyRequest['log']) => {
    const heartbeat = keepIdempotencyClaimAlive(deps, claim, (error) => log.warn({ err: error }, 'could not refresh the heartbeat of an Idempotency-Key claim'));
    const stop = () => {
      pending.heartbeat.stop();
      held.delete(pending);
    };
    const giveUpAt = Date.now() + timing.finishRetryForMs;
    let trying = false;
    const timer = setInterval(() => {
      if (trying) return;
      trying = true;
      finishIdempotencyClaim({ ...deps, db: deps.heartbeatDb ?? deps.db }, claim, response)
        .then(
          () => {
            stop();
            log.info('stored the response for Idempotency-Key after retrying');
          },
          (error: unknown) => {
            if (Date.now() < giveUpAt) return;
            stop();
            log.error({ err: error }, 'gave up storing the response for Idempotency-Key; the key is taken over once its heartbeat is stale');
          },
        )
        .finally(() => (trying = false));
    }, timing.finishRetryMs);
    timer.unref();
    // In `held`, so closing the app stops both the retries and the heartbeat.
    const pending: HeldClaim = { claim, heartbeat: { stop: () => (clearInterval(timer), heartbeat.stop()) } };
    held.add(pending);
  };
  // Safety net: a response that somehow ended without passing through onSend must not keep its claim alive.
  app.addHook('onResponse', async (request) => void letGo(request));
  app.addHook('onClose', async () => {
    for (const claim of held) claim.heartbeat.stop();
    held.clear();
  });
}
