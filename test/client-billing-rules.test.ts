import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { APIV2Client, VantageAPIError } from '@vantage-sh/vantage-client';
import { DIALECTS, listeningApp, seedMsp, uniqueEmail } from './helpers/app.ts';
import { contractMissing, contractViolations } from './helpers/contract.ts';

type CreateBody = Parameters<APIV2Client['billingRules']['create']>[0];
type UpdateBody = Parameters<APIV2Client['billingRules']['update']>[1];

const UNSET = { charge_type: null, percentage: null, service: null, category: null, sub_category: null, start_period: null, amount: null, sql_query: null };

/**
 * Each of the five types, what the client sends on create and on update, and the type-specific part of the
 * BillingRule that must come back (numbers become exact decimal strings, W8).
 */
const CASES: Array<{ create: CreateBody; created: Record<string, unknown>; update: UpdateBody; updated: Record<string, unknown> }> = [
  {
    create: { type: 'exclusion', title: 'Exclude RI fees', charge_type: 'RIFee' },
    created: { charge_type: 'RIFee', execution_stage: 3, execution_stage_name: 'COST transforms' },
    update: { title: 'Exclude distributor discounts', charge_type: 'DistributorDiscount', apply_to_all: false },
    updated: { charge_type: 'DistributorDiscount' },
  },
  {
    create: { type: 'adjustment', title: 'CloudFront re-rate', service: 'Amazon CloudFront', category: 'Data Transfer', percentage: 85 },
    created: { service: 'Amazon CloudFront', category: 'Data Transfer', percentage: '85.0', execution_stage: 3, execution_stage_name: 'COST transforms' },
    update: { title: 'CloudFront re-rate (70%)', percentage: 0.7, apply_to_all: false },
    updated: { service: 'Amazon CloudFront', category: 'Data Transfer', percentage: '0.7' },
  },
  {
    create: {
      type: 'charge', title: 'Monthly MSP fee', service: 'MSP', category: 'MSP Fee', sub_category: 'Monthly',
      start_date: '2024-05-01', start_period: '2024-05-01', amount: 300, apply_to_all: true,
    },
    created: { service: 'MSP', category: 'MSP Fee', sub_category: 'Monthly', start_period: '2024-05-01', amount: '300.0', execution_stage: 2, execution_stage_name: 'COST inserts' },
    update: { title: 'Monthly MSP fee 2025', amount: 325.75, end_date: '2025-12-31', apply_to_all: true },
    updated: { service: 'MSP', category: 'MSP Fee', sub_category: 'Monthly', start_period: '2024-05-01', amount: '325.75' },
  },
  {
    create: { type: 'credit', title: 'Credit for Data Transfer', service: 'Amazon S3', category: 'Data Transfer', sub_category: 'Outbound', start_date: '2024-06-28T00:00:00Z', amount: 5000.25 },
    created: { service: 'Amazon S3', category: 'Data Transfer', sub_category: 'Outbound', amount: '5000.25', execution_stage: 2, execution_stage_name: 'COST inserts' },
    update: { sub_category: 'Inbound', amount: 0.7, apply_to_all: false },
    updated: { service: 'Amazon S3', category: 'Data Transfer', sub_category: 'Inbound', amount: '0.7' },
  },
  {
    create: {
      type: 'custom', title: '9.5% discount', start_date: '2025-01-01',
      sql_query: 'UPDATE aws\nSET "lineItem/UnblendedCost" = aws."lineItem/UnblendedCost" * 0.905\nWHERE aws."lineItem/LineItemType" != \'Credit\'',
    },
    created: {
      sql_query: 'UPDATE aws\nSET "lineItem/UnblendedCost" = aws."lineItem/UnblendedCost" * 0.905\nWHERE aws."lineItem/LineItemType" != \'Credit\'',
      execution_stage: 1,
      execution_stage_name: 'AWS transforms',
    },
    update: { sql_query: 'UPDATE aws SET "lineItem/UnblendedCost" = aws."lineItem/UnblendedCost" * 0.9', apply_to_all: false },
    updated: { sql_query: 'UPDATE aws SET "lineItem/UnblendedCost" = aws."lineItem/UnblendedCost" * 0.9' },
  },
];

/** Vantage's official TypeScript client against Steward on a real port: billing rules. */
for (const dialect of DIALECTS) {
  describe(`@vantage-sh/vantage-client billingRules [${dialect.name}]`, { skip: dialect.skip }, () => {
    test('create/list/get/update/delete each of the five types; every response is what was sent and validates', async (t) => {
      const { db, baseUrl } = await listeningApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const client = new APIV2Client(msp.token, false, baseUrl);
      const conforms = (method: string, path: string, status: number, body: unknown) => {
        if (!contractMissing) assert.deepEqual(contractViolations(method, path, status, body), [], `${method} ${path}`);
      };

      const created = [];
      for (const { create, created: specific } of CASES) {
        const rule = await client.billingRules.create(create);
        conforms('POST', '/v2/billing_rules', 201, rule);
        assert.match(rule.token, /^bllng_rule_[0-9a-f]{16}$/);
        assert.match(rule.created_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
        assert.deepEqual(rule, {
          token: rule.token,
          title: create.title,
          type: create.type,
          start_date: create.start_date ?? null,
          end_date: create.end_date ?? null,
          apply_to_all: create.apply_to_all ?? false,
          created_by_token: msp.accountToken,
          created_at: rule.created_at,
          ...UNSET,
          ...specific,
        });
        created.push(rule);
      }

      const listed = await client.billingRules.list({ page: 1, limit: 100 });
      conforms('GET', '/v2/billing_rules', 200, listed);
      assert.deepEqual(listed.billing_rules.slice(2), created, 'oldest first, after the two seeded rules');
      assert.equal(listed.links?.next, null);
      assert.equal(new URL(listed.links?.self ?? '').origin, baseUrl);

      for (const [i, { update, updated: specific }] of CASES.entries()) {
        const before = created[i] as (typeof created)[number];
        const got = await client.billingRules.get(before.token);
        conforms('GET', `/v2/billing_rules/${before.token}`, 200, got);
        assert.deepEqual(got, before);

        const after = await client.billingRules.update(before.token, update);
        conforms('PUT', `/v2/billing_rules/${before.token}`, 200, after);
        const { percentage: _p, amount: _a, ...sentScalars } = update;
        void _p;
        void _a;
        assert.deepEqual(after, { ...before, ...sentScalars, ...specific });
        assert.deepEqual(await client.billingRules.get(before.token), after);
      }

      // The apply-to-all charge reached a managed account created afterwards, through the client too.
      const account = await client.managedAccounts.create({ name: 'Client customer', contact_email: uniqueEmail('client') });
      assert.deepEqual(account.billing_rule_tokens, [created[2]?.token]);

      for (const rule of created) {
        assert.equal(await client.billingRules.delete(rule.token), undefined);
        await assert.rejects(client.billingRules.get(rule.token), (e: unknown) => {
          assert.ok(e instanceof VantageAPIError);
          assert.equal(e.status, 404);
          conforms('GET', `/v2/billing_rules/${rule.token}`, 404, { errors: e.errors });
          return true;
        });
      }
      assert.deepEqual((await client.managedAccounts.get(account.token)).billing_rule_tokens, []);
      assert.deepEqual((await client.billingRules.list()).billing_rules.map((r) => r.token), msp.rules);
    });

    test('a refused create surfaces as VantageAPIError 400 whose errors name the field', async (t) => {
      const { db, baseUrl } = await listeningApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const client = new APIV2Client(msp.token, false, baseUrl);
      await assert.rejects(client.billingRules.create({ type: 'adjustment', title: 'Partner uplift' }), (e: unknown) => {
        assert.ok(e instanceof VantageAPIError);
        assert.equal(e.status, 400);
        assert.deepEqual(e.errors, ['percentage is required for adjustment rules']);
        return true;
      });
    });
  });
}
