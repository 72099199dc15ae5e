import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.ts';

/** STUB (issue 4, rate-limit helper replaces it): R3 per-token rate limits. */
export async function registerRateLimit(_app: FastifyInstance, _config: Config): Promise<void> {}
