import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { getMe } from '../../domain/me.ts';
import { principalOf } from '../auth.ts';
import { ErrorsSchema } from '../schemas/common.ts';
import { BearerTokenSchema, MeSchema, WorkspaceSchema } from '../schemas/me.ts';
import type { RouteDeps } from './deps.ts';

const Errors = Type.Ref(ErrorsSchema);

/** SPEC §7 `GET /v2/me`: open to every account, MSP or not (it does not reveal MSP status). */
export const meRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db }) => {
  for (const schema of [WorkspaceSchema, BearerTokenSchema, MeSchema]) app.addSchema(schema);

  app.get(
    '/me',
    {
      config: { auth: { scope: 'read', msp: false } },
      schema: {
        operationId: 'getMe',
        summary: 'Get authenticated user info',
        description: 'Get information about the authenticated BearerToken.',
        tags: ['Me'],
        security: [{ oauth2: ['read'] }],
        response: { 200: Type.Ref(MeSchema), 401: Errors, 403: Errors },
      },
    },
    async (request) => getMe(db, principalOf(request)),
  );
};
