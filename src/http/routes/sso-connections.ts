import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import * as ssoConnections from '../../domain/sso-connections.ts';
import { actorOf, parentOf } from '../auth.ts';
import { ErrorsSchema } from '../schemas/common.ts';
import { ManagedAccountParams, ManagedAccountSchema } from '../schemas/managed-accounts.ts';
import { CreateSsoConnectionBody, UpdateSsoConnectionBody } from '../schemas/sso-connections.ts';
import type { RouteDeps } from './deps.ts';

const tags = ['ManagedAccounts'];
const Errors = Type.Ref(ErrorsSchema);
const write = { auth: { scope: 'write', msp: true } } as const;
const security = [{ oauth2: ['write'] }];
const path = '/managed_accounts/:managed_account_token/sso_connection';

/** SPEC §2.3 rows 6–8 and §3; DECISIONS S1–S3. Every success answers with the managed account (no SSO fields). */
export const ssoConnectionRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db, config }) => {
  const policy: ssoConnections.SsoPolicy = { allowHttpSamlMetadata: config.allowHttpSamlMetadata };

  app.post(
    path,
    {
      config: write,
      schema: {
        operationId: 'createSsoConnectionForManagedAccount',
        summary: 'Configure SSO for managed account',
        description: 'Configure SSO for a Managed Account.',
        tags,
        security,
        params: ManagedAccountParams,
        body: CreateSsoConnectionBody,
        response: { 201: Type.Ref(ManagedAccountSchema), 400: Errors, 401: Errors, 403: Errors, 404: Errors },
      },
    },
    async (request, reply) => {
      const account = await ssoConnections.createSsoConnection(db, parentOf(request), actorOf(request), request.params.managed_account_token, request.body, policy);
      return reply.code(201).send(account);
    },
  );

  app.put(
    path,
    {
      config: write,
      schema: {
        operationId: 'updateSsoConnectionForManagedAccount',
        summary: 'Update SSO configuration for managed account',
        description: 'Update SSO configuration for a Managed Account.',
        tags,
        security,
        params: ManagedAccountParams,
        body: UpdateSsoConnectionBody,
        response: { 200: Type.Ref(ManagedAccountSchema), 400: Errors, 401: Errors, 403: Errors, 404: Errors },
      },
    },
    async (request) =>
      ssoConnections.updateSsoConnection(db, parentOf(request), actorOf(request), request.params.managed_account_token, request.body, policy),
  );

  app.delete(
    path,
    {
      config: write,
      schema: {
        operationId: 'deleteSsoConnectionForManagedAccount',
        summary: 'Delete SSO connection for managed account',
        description: 'Delete SSO connection for a Managed Account.',
        tags,
        security,
        params: ManagedAccountParams,
        response: { 204: Type.Null({ description: 'Deleted; empty body.' }), 400: Errors, 401: Errors, 403: Errors, 404: Errors },
      },
    },
    async (request, reply) => {
      await ssoConnections.deleteSsoConnection(db, parentOf(request), actorOf(request), request.params.managed_account_token);
      return reply.code(204).send(null);
    },
  );
};
