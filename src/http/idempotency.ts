import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import {
  claimIdempotencyKey,
  finishIdempotencyClaim,
  idempotencyRequestHash,
  parseIdempotencyKey,
  type IdempotencyClaim,
} from '../domain/idempotency.ts';
import { errors } from '../domain/errors.ts';
import type { Database } from '../store/schema.ts';
import { principalOf } from './auth.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set while this request holds an Idempotency-Key claim; onSend completes or releases it. */
    idempotencyClaim?: IdempotencyClaim;
  }
}

const WRITES = new Set(['POST', 'PUT', 'DELETE']);

/**
 * R2: `Idempotency-Key` on authenticated writes. Runs as a preHandler, after authentication and validation, so
 * only a request that would run claims its key (a request refused with 400 leaves the key unused). A repeat of a
 * finished request gets its stored response with `idempotent-replayed: true`, and the handler does not run.
 */
export function registerIdempotency(app: FastifyInstance, db: Kysely<Database>): void {
  app.addHook('preHandler', async (request, reply) => {
    if (!WRITES.has(request.method) || !request.routeOptions.config.auth) return;
    // Node joins repeated headers with ", ", which would otherwise read as one key with a space in it.
    if (request.raw.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === 'idempotency-key').length > 1) {
      throw errors.invalid('send exactly one Idempotency-Key header');
    }
    const key = parseIdempotencyKey(request.headers['idempotency-key']);
    if (key === undefined) return;
    const hash = idempotencyRequestHash({ method: request.method, url: request.url, body: request.body });
    const outcome = await claimIdempotencyKey(db, principalOf(request).tokenId, key, hash);
    if (outcome.kind === 'claimed') {
      request.idempotencyClaim = outcome.claim;
      return;
    }
    const { status, body, contentType } = outcome.response;
    if (contentType !== null) reply.header('content-type', contentType);
    return reply.code(status).header('idempotent-replayed', 'true').send(body);
  });

  // onSend sees every response, the handler's and the error handler's alike, before the client does: a retry
  // that follows the response always finds it stored.
  app.addHook('onSend', async (request, reply, payload) => {
    const claim = request.idempotencyClaim;
    if (!claim) return payload;
    request.idempotencyClaim = undefined;
    const body = typeof payload === 'string' ? payload : payload === null || payload === undefined ? '' : null;
    const contentType = reply.getHeader('content-type');
    try {
      const kept = await finishIdempotencyClaim(
        db,
        claim,
        body === null ? null : { status: reply.statusCode, body, contentType: typeof contentType === 'string' ? contentType : null },
      );
      if (!kept) request.log.warn('Idempotency-Key claim was taken over before this request finished; its response is not stored');
    } catch (error) {
      // The change itself is committed: answer it. The claim stays running and is taken over after a minute.
      request.log.error({ err: error }, 'could not store the response for Idempotency-Key');
    }
    return payload;
  });
}
