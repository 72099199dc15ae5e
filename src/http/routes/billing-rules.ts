import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import * as billingRules from '../../domain/billing-rules.ts';
import { actorOf, principalOf } from '../auth.ts';
import { pageLinks, pageOf } from '../pagination.ts';
import {
  BillingRuleParams,
  BillingRuleSchema,
  BillingRulesSchema,
  CreateBillingRuleBody,
  UpdateBillingRuleBody,
} from '../schemas/billing-rules.ts';
import { ErrorsSchema, PaginationQuery } from '../schemas/common.ts';
import type { RouteDeps } from './deps.ts';

const tags = ['BillingRules'];
const Errors = Type.Ref(ErrorsSchema);
const read = { auth: { scope: 'read', msp: true } } as const;
const write = { auth: { scope: 'write', msp: true } } as const;
const security = (scope: 'read' | 'write') => [{ oauth2: [scope] }];

/** The MSP a request acts for; it owns the rules and is recorded as their creator (Steward has no users). */
const ownerOf = (request: FastifyRequest): billingRules.Owner => {
  const principal = principalOf(request);
  return { id: principal.accountId, actorToken: principal.accountToken };
};

/** SPEC §4.3: billing rules, MSP-only (A4). */
export const billingRuleRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db, origin }) => {
  for (const schema of [BillingRuleSchema, BillingRulesSchema]) app.addSchema(schema);

  app.get(
    '/billing_rules',
    {
      config: read,
      schema: {
        operationId: 'getBillingRules',
        summary: 'Get all billing rules',
        description: 'Returns a list of billing rules, oldest first.',
        tags,
        security: security('read'),
        querystring: PaginationQuery,
        response: { 200: Type.Ref(BillingRulesSchema), 400: Errors, 401: Errors, 403: Errors },
      },
    },
    async (request) => {
      const page = pageOf(request.query);
      const { items, total } = await billingRules.listBillingRules(db, ownerOf(request).id, page);
      return { links: pageLinks(request, origin(), page, total), billing_rules: items };
    },
  );

  app.post(
    '/billing_rules',
    {
      config: write,
      schema: {
        operationId: 'createBillingRule',
        summary: 'Create billing rule',
        description: 'Create a BillingRule.',
        tags,
        security: security('write'),
        body: CreateBillingRuleBody,
        response: { 201: Type.Ref(BillingRuleSchema), 400: Errors, 401: Errors, 403: Errors },
      },
    },
    async (request, reply) => reply.code(201).send(await billingRules.createBillingRule(db, ownerOf(request), actorOf(request), request.body)),
  );

  app.get(
    '/billing_rules/:billing_rule_token',
    {
      config: read,
      schema: {
        operationId: 'getBillingRule',
        summary: 'Get billing rule by token',
        description: 'Return a BillingRule.',
        tags,
        security: security('read'),
        params: BillingRuleParams,
        response: { 200: Type.Ref(BillingRuleSchema), 401: Errors, 403: Errors, 404: Errors },
      },
    },
    async (request) => billingRules.getBillingRule(db, ownerOf(request).id, request.params.billing_rule_token),
  );

  app.put(
    '/billing_rules/:billing_rule_token',
    {
      config: write,
      schema: {
        operationId: 'updateBillingRule',
        summary: 'Update billing rule',
        description: 'Update a BillingRule.',
        tags,
        security: security('write'),
        params: BillingRuleParams,
        body: UpdateBillingRuleBody,
        response: { 200: Type.Ref(BillingRuleSchema), 400: Errors, 401: Errors, 403: Errors, 404: Errors },
      },
    },
    async (request) => billingRules.updateBillingRule(db, ownerOf(request).id, actorOf(request), request.params.billing_rule_token, request.body),
  );

  app.delete(
    '/billing_rules/:billing_rule_token',
    {
      config: write,
      schema: {
        operationId: 'deleteBillingRule',
        summary: 'Delete billing rule',
        description: 'Delete a BillingRule; it is removed from every managed account\'s billing_rule_tokens.',
        tags,
        security: security('write'),
        params: BillingRuleParams,
        response: { 204: Type.Null({ description: 'Deleted; empty body.' }), 401: Errors, 403: Errors, 404: Errors },
      },
    },
    async (request, reply) => {
      await billingRules.deleteBillingRule(db, ownerOf(request).id, actorOf(request), request.params.billing_rule_token);
      return reply.code(204).send(null);
    },
  );
};
