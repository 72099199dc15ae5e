import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { RouteDeps } from './deps.ts';

/** STUB (issue 4, OAuth helper replaces it): /oauth/token, /oauth/revoke, /oauth/introspect, RFC 8414 metadata. */
export const oauthRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async () => {};
