import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { RouteDeps } from './deps.ts';

/** Placeholder: filled in by issue 3. */
export const billingRuleRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async () => {};
