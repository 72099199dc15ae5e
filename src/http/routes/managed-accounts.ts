import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Kysely } from 'kysely';
import * as managedAccounts from '../../domain/managed-accounts.ts';
import type { Database } from '../../store/schema.ts';
import { actorOf, parentOf } from '../auth.ts';
import { pageLinks, pageOf } from '../pagination.ts';
import { ErrorsSchema, PaginationQuery } from '../schemas/common.ts';
import {
  CreateManagedAccountBody,
  ManagedAccountParams,
  ManagedAccountSchema,
  ManagedAccountsSchema,
  UpdateManagedAccountBody,
} from '../schemas/managed-accounts.ts';

export interface ManagedAccountRouteOptions {
  db: Kysely<Database>;
  origin: () => string;
  policy: managedAccounts.ManagedAccountPolicy;
}

const tags = ['ManagedAccounts'];
const Errors = Type.Ref(ErrorsSchema);
const read = { auth: { scope: 'read', msp: true } } as const;
const write = { auth: { scope: 'write', msp: true } } as const;
const security = (scope: 'read' | 'write') => [{ oauth2: [scope] }];

/** SPEC §2.3 rows 1–5. */
export const managedAccountRoutes: FastifyPluginAsyncTypebox<ManagedAccountRouteOptions> = async (app, { db, origin, policy }) => {
  app.get(
    '/managed_accounts',
    {
      config: read,
      schema: {
        operationId: 'getManagedAccounts',
        summary: 'Get all managed accounts',
        tags,
        security: security('read'),
        querystring: PaginationQuery,
        response: { 200: Type.Ref(ManagedAccountsSchema), 400: Errors, 401: Errors, 403: Errors },
      },
    },
    async (request) => {
      const page = pageOf(request.query);
      const { items, total } = await managedAccounts.listManagedAccounts(db, parentOf(request), page);
      return { links: pageLinks(request, origin(), page, total), managed_accounts: items };
    },
  );

  app.post(
    '/managed_accounts',
    {
      config: write,
      schema: {
        operationId: 'createManagedAccount',
        summary: 'Create managed account',
        tags,
        security: security('write'),
        body: CreateManagedAccountBody,
        response: { 201: Type.Ref(ManagedAccountSchema), 400: Errors, 401: Errors, 403: Errors },
      },
    },
    async (request, reply) => {
      const account = await managedAccounts.createManagedAccount(db, parentOf(request), actorOf(request), request.body, policy);
      return reply.code(201).send(account);
    },
  );

  app.get(
    '/managed_accounts/:managed_account_token',
    {
      config: read,
      schema: {
        operationId: 'getManagedAccount',
        summary: 'Get managed account by token',
        tags,
        security: security('read'),
        params: ManagedAccountParams,
        response: { 200: Type.Ref(ManagedAccountSchema), 401: Errors, 403: Errors, 404: Errors },
      },
    },
    async (request) => managedAccounts.getManagedAccount(db, parentOf(request), request.params.managed_account_token),
  );

  app.put(
    '/managed_accounts/:managed_account_token',
    {
      config: write,
      schema: {
        operationId: 'updateManagedAccount',
        summary: 'Update managed account',
        tags,
        security: security('write'),
        params: ManagedAccountParams,
        body: UpdateManagedAccountBody,
        response: { 200: Type.Ref(ManagedAccountSchema), 400: Errors, 401: Errors, 403: Errors, 404: Errors },
      },
    },
    async (request) =>
      managedAccounts.updateManagedAccount(db, parentOf(request), actorOf(request), request.params.managed_account_token, request.body, policy),
  );

  app.delete(
    '/managed_accounts/:managed_account_token',
    {
      config: write,
      schema: {
        operationId: 'deleteManagedAccount',
        summary: 'Delete managed account',
        tags,
        security: security('write'),
        params: ManagedAccountParams,
        response: { 204: Type.Null({ description: 'Deleted; empty body.' }), 401: Errors, 403: Errors, 404: Errors },
      },
    },
    async (request, reply) => {
      await managedAccounts.deleteManagedAccount(db, parentOf(request), actorOf(request), request.params.managed_account_token);
      return reply.code(204).send(null);
    },
  );
};
