import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import * as billingProfiles from '../../domain/billing-profiles.ts';
import { actorOf, principalOf } from '../auth.ts';
import { pageLinks, pageOf } from '../pagination.ts';
import {
  BillingProfileParams,
  BillingProfileSchema,
  billingProfileSchemas,
  BillingProfilesSchema,
  CreateBillingProfileBody,
  UpdateBillingProfileBody,
} from '../schemas/billing-profiles.ts';
import { ErrorsSchema, PaginationQuery } from '../schemas/common.ts';
import type { RouteDeps } from './deps.ts';

const tags = ['BillingProfiles'];
const Errors = Type.Ref(ErrorsSchema);
const read = { auth: { scope: 'read', msp: true } } as const;
const write = { auth: { scope: 'write', msp: true } } as const;
const security = (scope: 'read' | 'write') => [{ oauth2: [scope] }];

/** SPEC §6.1: an MSP's billing profiles. Needs MSP invoicing on the caller's account (SPEC §11 row 4). */
export const billingProfileRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db, origin, secrets }) => {
  for (const schema of billingProfileSchemas) app.addSchema(schema);

  // Runs after authentication (a root hook), before the body is read: an MSP without invoicing gets the same 403
  // as an account that is not an MSP, whatever it sends.
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.config.auth) await billingProfiles.requireMspInvoicing(db, principalOf(request).accountId);
  });

  const ownerOf = (request: Parameters<typeof principalOf>[0]) => principalOf(request).accountId;

  app.get(
    '/billing_profiles',
    {
      config: read,
      schema: {
        operationId: 'getBillingProfiles',
        summary: 'Get all billing profiles',
        description: 'Returns a list of billing profiles (MSP invoicing required).',
        tags,
        security: security('read'),
        querystring: PaginationQuery,
        response: { 200: Type.Ref(BillingProfilesSchema), 400: Errors, 401: Errors, 403: Errors },
      },
    },
    async (request) => {
      const page = pageOf(request.query);
      const { items, total } = await billingProfiles.listBillingProfiles(db, secrets, ownerOf(request), page);
      return { links: pageLinks(request, origin(), page, total), billing_profiles: items };
    },
  );

  app.post(
    '/billing_profiles',
    {
      config: write,
      schema: {
        operationId: 'createBillingProfile',
        summary: 'Create billing profile',
        description: 'Create a billing profile (MSP invoicing required).',
        tags,
        security: security('write'),
        body: CreateBillingProfileBody,
        response: { 201: Type.Ref(BillingProfileSchema), 400: Errors, 401: Errors, 403: Errors },
      },
    },
    async (request, reply) => {
      const profile = await billingProfiles.createBillingProfile(db, secrets, ownerOf(request), actorOf(request), request.body);
      return reply.code(201).send(profile);
    },
  );

  app.get(
    '/billing_profiles/:billing_profile_token',
    {
      config: read,
      schema: {
        operationId: 'getBillingProfile',
        summary: 'Get billing profile by token',
        description: 'Requires MSP invoicing to be enabled on the account.',
        tags,
        security: security('read'),
        params: BillingProfileParams,
        response: { 200: Type.Ref(BillingProfileSchema), 401: Errors, 403: Errors, 404: Errors },
      },
    },
    async (request) => billingProfiles.getBillingProfile(db, secrets, ownerOf(request), request.params.billing_profile_token),
  );

  app.put(
    '/billing_profiles/:billing_profile_token',
    {
      config: write,
      schema: {
        operationId: 'updateBillingProfile',
        summary: 'Update billing profile',
        description: 'Requires MSP invoicing to be enabled on the account.',
        tags,
        security: security('write'),
        params: BillingProfileParams,
        body: UpdateBillingProfileBody,
        response: { 200: Type.Ref(BillingProfileSchema), 400: Errors, 401: Errors, 403: Errors, 404: Errors },
      },
    },
    async (request) =>
      billingProfiles.updateBillingProfile(db, secrets, ownerOf(request), actorOf(request), request.params.billing_profile_token, request.body),
  );

  app.delete(
    '/billing_profiles/:billing_profile_token',
    {
      config: write,
      schema: {
        operationId: 'deleteBillingProfile',
        summary: 'Delete billing profile',
        description: 'Requires MSP invoicing to be enabled on the account. Refused (400) while a managed account names the profile.',
        tags,
        security: security('write'),
        params: BillingProfileParams,
        response: { 204: Type.Null({ description: 'Deleted; empty body.' }), 400: Errors, 401: Errors, 403: Errors, 404: Errors },
      },
    },
    async (request, reply) => {
      await billingProfiles.deleteBillingProfile(db, secrets, ownerOf(request), actorOf(request), request.params.billing_profile_token);
      return reply.code(204).send(null);
    },
  );
};
