import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';

/** `GET /v2/ping` (no token: it doubles as a health check) and the OpenAPI document built from the route schemas. */
export const metaRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/ping',
    {
      schema: {
        operationId: 'ping',
        summary: 'Ping',
        tags: ['Ping'],
        security: [],
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get('/oas_v3.json', { schema: { hide: true } }, async () => app.swagger());
};
