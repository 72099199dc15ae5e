import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { RouteDeps } from './deps.ts';

/** STUB (issue 4, audit helper replaces it): GET /v2/audit_logs and /v2/audit_logs/{token}. */
export const auditLogRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async () => {};
