import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import * as integrations from '../../domain/integrations.ts';
import { actorOf, principalOf } from '../auth.ts';
import { pageLinks, pageOf } from '../pagination.ts';
import { ErrorsSchema } from '../schemas/common.ts';
import {
  CreateAzureIntegrationBody,
  CreateCustomProviderIntegrationBody,
  CreateGcpIntegrationBody,
  IntegrationParams,
  IntegrationSchema,
  IntegrationsQuery,
  IntegrationsSchema,
  ManagedAccountIntegrationParams,
  ManagedAccountIntegrationSchema,
  UpdateIntegrationBody,
  UpdateManagedAccountIntegrationBody,
} from '../schemas/integrations.ts';
import type { RouteDeps } from './deps.ts';

const tags = ['Integrations'];
const Errors = Type.Ref(ErrorsSchema);
const Integration = Type.Ref(IntegrationSchema);
/** Every account has integrations of its own, so these routes are not MSP-only (A4 names only other areas). */
const read = { auth: { scope: 'read', msp: false } } as const;
const write = { auth: { scope: 'write', msp: false } } as const;
/** Delegation is an MSP's business (SPEC §2.6). */
const mspRead = { auth: { scope: 'read', msp: true } } as const;
const mspWrite = { auth: { scope: 'write', msp: true } } as const;
const security = (scope: 'read' | 'write') => [{ oauth2: [scope] }];

/** SPEC §5 (integrations) and §2.3 rows 9–10 (a delegated integration's scoping). */
export const integrationRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db, origin, secrets }) => {
  for (const schema of [IntegrationSchema, IntegrationsSchema, ManagedAccountIntegrationSchema]) app.addSchema(schema);

  app.get(
    '/integrations',
    {
      config: read,
      schema: {
        operationId: 'getIntegrations',
        summary: 'Get all integrations',
        description: "Return the caller's own Integrations, oldest first.",
        tags,
        security: security('read'),
        querystring: IntegrationsQuery,
        response: { 200: Type.Ref(IntegrationsSchema), 400: Errors, 401: Errors, 403: Errors },
      },
    },
    async (request) => {
      const page = pageOf(request.query);
      const { provider, account_identifier } = request.query;
      const { items, total } = await integrations.listIntegrations(db, principalOf(request).accountId, { provider, account_identifier }, page);
      return { links: pageLinks(request, origin(), page, total), integrations: items };
    },
  );

  app.get(
    '/integrations/:integration_token',
    {
      config: read,
      schema: {
        operationId: 'getIntegration',
        summary: 'Get integration by token',
        tags,
        security: security('read'),
        params: IntegrationParams,
        response: { 200: Integration, 401: Errors, 403: Errors, 404: Errors },
      },
    },
    async (request) => integrations.getIntegration(db, principalOf(request).accountId, request.params.integration_token),
  );

  app.put(
    '/integrations/:integration_token',
    {
      config: write,
      schema: {
        operationId: 'updateIntegration',
        summary: 'Update integration',
        tags,
        security: security('write'),
        params: IntegrationParams,
        body: UpdateIntegrationBody,
        response: { 200: Integration, 400: Errors, 401: Errors, 403: Errors, 404: Errors },
      },
    },
    async (request) =>
      integrations.updateIntegration(db, principalOf(request).accountId, actorOf(request), request.params.integration_token, request.body ?? {}),
  );

  app.delete(
    '/integrations/:integration_token',
    {
      config: write,
      schema: {
        operationId: 'deleteIntegration',
        summary: 'Delete integration',
        tags,
        security: security('write'),
        params: IntegrationParams,
        response: { 204: Type.Null({ description: 'Deleted; empty body.' }), 401: Errors, 403: Errors, 404: Errors },
      },
    },
    async (request, reply) => {
      await integrations.deleteIntegration(db, principalOf(request).accountId, actorOf(request), request.params.integration_token);
      return reply.code(204).send(null);
    },
  );

  const creates = [
    { path: 'custom_provider', provider: 'custom_provider', operationId: 'createCustomProviderIntegration', summary: 'Create custom provider integration', body: CreateCustomProviderIntegrationBody },
    { path: 'gcp', provider: 'gcp', operationId: 'createGCPIntegration', summary: 'Create GCP integration', body: CreateGcpIntegrationBody },
    { path: 'azure', provider: 'azure', operationId: 'createAzureIntegration', summary: 'Create Azure integration', body: CreateAzureIntegrationBody },
  ] as const;
  for (const { path, provider, operationId, summary, body } of creates) {
    app.post(
      `/integrations/${path}`,
      {
        config: write,
        schema: {
          operationId,
          summary,
          tags,
          security: security('write'),
          body,
          response: { 201: Integration, 400: Errors, 401: Errors, 403: Errors },
        },
      },
      async (request, reply) => {
        const fields = request.body as Record<string, string | null | undefined>;
        const created = await integrations.createIntegration(db, principalOf(request).accountId, actorOf(request), { ...fields, provider }, secrets);
        return reply.code(201).send(created);
      },
    );
  }

  app.get(
    '/managed_accounts/:managed_account_token/integrations/:access_credential_token',
    {
      config: mspRead,
      schema: {
        operationId: 'getManagedAccountIntegration',
        summary: 'Get managed account integration',
        description: 'The delegation of one of your Integrations to one of your Managed Accounts, with the provider accounts it imports.',
        tags: ['ManagedAccounts'],
        security: security('read'),
        params: ManagedAccountIntegrationParams,
        response: { 200: Type.Ref(ManagedAccountIntegrationSchema), 401: Errors, 403: Errors, 404: Errors },
      },
    },
    async (request) =>
      integrations.getManagedAccountIntegration(
        db,
        principalOf(request).accountId,
        request.params.managed_account_token,
        request.params.access_credential_token,
      ),
  );

  app.put(
    '/managed_accounts/:managed_account_token/integrations/:access_credential_token',
    {
      config: mspWrite,
      schema: {
        operationId: 'updateManagedAccountIntegration',
        summary: 'Update managed account integration',
        description: 'Replaces the provider account identifiers a delegated Integration imports; [] applies no filter.',
        tags: ['ManagedAccounts'],
        security: security('write'),
        params: ManagedAccountIntegrationParams,
        body: UpdateManagedAccountIntegrationBody,
        response: { 200: Type.Ref(ManagedAccountIntegrationSchema), 400: Errors, 401: Errors, 403: Errors, 404: Errors },
      },
    },
    async (request) =>
      integrations.updateManagedAccountIntegration(
        db,
        principalOf(request).accountId,
        actorOf(request),
        request.params.managed_account_token,
        request.params.access_credential_token,
        request.body,
      ),
  );
};
