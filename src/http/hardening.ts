import type { FastifyInstance } from 'fastify';

/** STUB (issue 4, hostile-input helper replaces it): security headers and other hardening. */
export async function registerHardening(_app: FastifyInstance): Promise<void> {}
