import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import * as audit from '../../domain/audit.ts';
import { principalOf } from '../auth.ts';
import { pageLinks, pageOf } from '../pagination.ts';
import { AUDIT_MAX_LIMIT, AuditLogParams, AuditLogSchema, AuditLogsQuery, AuditLogsSchema } from '../schemas/audit-logs.ts';
import { ErrorsSchema } from '../schemas/common.ts';
import type { RouteDeps } from './deps.ts';

const tags = ['AuditLogs'];
const Errors = Type.Ref(ErrorsSchema);
/** Every account changes something (non-MSPs their integrations), so every account reads its own log. */
const read = { auth: { scope: 'read', msp: false } } as const;
const security = [{ oauth2: ['read'] }];

/** SPEC §8: the caller's own audit log, oldest first. */
export const auditLogRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db, origin }) => {
  for (const schema of [AuditLogSchema, AuditLogsSchema]) app.addSchema(schema);

  app.get(
    '/audit_logs',
    {
      config: read,
      schema: {
        operationId: 'getAuditLogs',
        summary: 'Get all audit logs',
        description: 'Return the AuditLogs of your account, oldest first.',
        tags,
        security,
        querystring: AuditLogsQuery,
        response: { 200: Type.Ref(AuditLogsSchema), 400: Errors, 401: Errors, 403: Errors },
      },
    },
    async (request) => {
      const page = pageOf(request.query, AUDIT_MAX_LIMIT);
      const { items, total } = await audit.listAuditLogs(db, principalOf(request).accountId, request.query, page);
      return { links: pageLinks(request, origin(), page, total), audit_logs: items };
    },
  );

  app.get(
    '/audit_logs/:audit_log_token',
    {
      config: read,
      schema: {
        operationId: 'getAuditLog',
        summary: 'Get audit log by token',
        description: 'Return a specific AuditLog.',
        tags,
        security,
        params: AuditLogParams,
        response: { 200: Type.Ref(AuditLogSchema), 401: Errors, 403: Errors, 404: Errors },
      },
    },
    async (request) => audit.getAuditLog(db, principalOf(request).accountId, request.params.audit_log_token),
  );
};
