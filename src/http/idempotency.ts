import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';

/** STUB (issue 4, idempotency helper replaces it): R2 Idempotency-Key. */
export function registerIdempotency(_app: FastifyInstance, _db: Kysely<Database>): void {}
