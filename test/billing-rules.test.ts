import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { call, DIALECTS, seedMsp, testApp, uniqueEmail, type MspFixture, type Response } from './helpers/app.ts';
import type { Store } from '../src/store/database.ts';
import { contractMissing, contractOperation, contractViolations } from './helpers/contract.ts';

const RULE = /^bllng_rule_[0-9a-f]{16}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const NEVER = 'bllng_rule_0000000000000000';
const KEYS = [
  'amount', 'apply_to_all', 'category', 'charge_type', 'created_at', 'created_by_token', 'end_date', 'execution_stage',
  'execution_stage_name', 'percentage', 'service', 'sql_query', 'start_date', 'start_period', 'sub_category', 'title', 'token', 'type',
];
const TYPE_SPECIFIC_NULLS = {
  charge_type: null, percentage: null, service: null, category: null, sub_category: null, start_period: null, amount: null, sql_query: null,
};

/** The Steward extension fields, as SPEC §4.6 names the stages. */
const STAGE = {
  1: { execution_stage: 1, execution_stage_name: 'AWS transforms' },
  2: { execution_stage: 2, execution_stage_name: 'COST inserts' },
  3: { execution_stage: 3, execution_stage_name: 'COST transforms' },
  4: { execution_stage: 4, execution_stage_name: 'monthly post-transform inserts' },
} as const;

/** One statement per execution stage (SPEC §4.6): 1 AWS transforms, 2 COST inserts, 3 COST transforms, 4 monthly inserts. */
const SQL = {
  1: 'UPDATE aws\nSET "lineItem/UnblendedCost" = aws."lineItem/UnblendedCost" * 0.905\nWHERE aws."lineItem/LineItemType" != \'Credit\'',
  2: "INSERT INTO costs (amount, service) VALUES (10, 'Support')",
  3: 'UPDATE costs SET amount = amount * 0.95',
  3.5: "DELETE FROM costs WHERE service = 'Tax'",
  4: "INSERT INTO costs (amount, service) SELECT SUM(amount) * 0.05, 'MSP fee' FROM costs",
} as const;

interface Ctx {
  app: FastifyInstance;
  store: Store;
  msp: MspFixture;
  /** An HTTP call whose response body, when the contract declares that status, must validate against it. */
  api: (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown) => Promise<Response>;
}

async function setup(t: Parameters<typeof testApp>[0], dialect: 'sqlite' | 'postgres'): Promise<Ctx> {
  const { app, db } = await testApp(t, dialect);
  const msp = await seedMsp(db.store);
  const api: Ctx['api'] = async (method, url, body) => {
    const res = await call(app, method, url, { token: msp.token, body });
    if (!contractMissing && url.startsWith('/v2/billing_rules')) {
      const declared = Object.keys(contractOperation(method, url).responses).map(Number);
      if (declared.includes(res.status)) assert.deepEqual(contractViolations(method, url, res.status, res.body), [], `${method} ${url} → ${res.raw}`);
    }
    return res;
  };
  return { app, store: db.store, msp, api };
}

async function createRule(ctx: Ctx, body: Record<string, unknown>): Promise<string> {
  const res = await ctx.api('POST', '/v2/billing_rules', body);
  assert.equal(res.status, 201, res.raw);
  return res.body.token;
}

async function createAccount(ctx: Ctx, billing_rule_tokens?: string[]): Promise<Response> {
  return ctx.api('POST', '/v2/managed_accounts', { name: 'Customer', contact_email: uniqueEmail(), billing_rule_tokens });
}

const rulesOf = async (ctx: Ctx, account: string): Promise<string[]> => {
  const res = await ctx.api('GET', `/v2/managed_accounts/${account}`);
  assert.equal(res.status, 200, res.raw);
  return res.body.billing_rule_tokens;
};

/** Everything observable about rules and accounts, for "a refused request changes nothing". */
async function everything(ctx: Ctx): Promise<unknown> {
  const rules = await ctx.api('GET', '/v2/billing_rules?limit=1000');
  const accounts = await ctx.api('GET', '/v2/managed_accounts?limit=1000');
  return { rules: rules.body, accounts: accounts.body };
}

const errorsOf = (res: Response): string => (res.body?.errors ?? []).join(' | ');

for (const dialect of DIALECTS) {
  describe(`billing rules [${dialect.name}]`, { skip: dialect.skip }, () => {
    test('create, get, list, update, delete each of the five types; every key present, unset ones null (C05)', async (t) => {
      const ctx = await setup(t, dialect.name);
      const bodies: Array<[Record<string, unknown>, Record<string, unknown>]> = [
        [{ title: 'Exclude RI fees', type: 'exclusion', charge_type: 'RIFee' }, { charge_type: 'RIFee', ...STAGE[3] }],
        [
          { title: 'CloudFront re-rate', type: 'Adjustment', service: 'Amazon CloudFront', category: 'Data Transfer', percentage: 85 },
          { service: 'Amazon CloudFront', category: 'Data Transfer', percentage: '85.0', ...STAGE[3] },
        ],
        [
          { title: 'Monthly MSP fee', type: 'CHARGE', start_date: '2024-05-01', apply_to_all: true, service: 'MSP', category: 'MSP Fee', sub_category: 'Monthly', start_period: '2024-05-01', amount: 300 },
          { service: 'MSP', category: 'MSP Fee', sub_category: 'Monthly', start_period: '2024-05-01', amount: '300.0', ...STAGE[2] },
        ],
        [
          { title: 'Credit', type: 'credit', start_date: '2024-06-28T00:00:00Z', end_date: '2024-12-31T23:59:59Z', service: 'Amazon S3', amount: 25.5 },
          { service: 'Amazon S3', amount: '25.5', ...STAGE[2] },
        ],
        [{ title: '9.5% discount', type: 'custom', start_date: '2025-01-01', sql_query: SQL[1] }, { sql_query: SQL[1], ...STAGE[1] }],
      ];
      const tokens: string[] = [];
      for (const [body, specific] of bodies) {
        const created = await ctx.api('POST', '/v2/billing_rules', body);
        assert.equal(created.status, 201, created.raw);
        assert.deepEqual(Object.keys(created.body).sort(), KEYS);
        assert.match(created.body.token, RULE);
        assert.match(created.body.created_at, ISO);
        assert.deepEqual(created.body, {
          token: created.body.token,
          title: body.title,
          type: String(body.type).toLowerCase(),
          start_date: body.start_date ?? null,
          end_date: body.end_date ?? null,
          apply_to_all: body.apply_to_all ?? false,
          created_by_token: ctx.msp.accountToken,
          created_at: created.body.created_at,
          ...TYPE_SPECIFIC_NULLS,
          ...specific,
        });
        const got = await ctx.api('GET', `/v2/billing_rules/${created.body.token}`);
        assert.equal(got.status, 200);
        assert.deepEqual(got.body, created.body);
        tokens.push(created.body.token);
      }

      const list = await ctx.api('GET', '/v2/billing_rules');
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.billing_rules.map((r: { token: string }) => r.token), [...ctx.msp.rules, ...tokens], 'oldest first');
      for (const token of tokens) {
        const one = await ctx.api('GET', `/v2/billing_rules/${token}`);
        assert.deepEqual(list.body.billing_rules.find((r: { token: string }) => r.token === token), one.body, 'list items equal the single GET');
      }

      const updates: Array<Record<string, unknown>> = [
        { title: 'Exclude distributor discounts', charge_type: 'DistributorDiscount' },
        { percentage: 0.7, service: 'Amazon S3' },
        { amount: 1250.5, end_date: '2025-01-01' },
        { title: 'Bigger credit', amount: 30 },
        { sql_query: SQL[1].replace('0.905', '0.9') },
      ];
      for (const [i, token] of tokens.entries()) {
        const before = (await ctx.api('GET', `/v2/billing_rules/${token}`)).body;
        const updated = await ctx.api('PUT', `/v2/billing_rules/${token}`, { ...updates[i], apply_to_all: before.apply_to_all });
        assert.equal(updated.status, 200, updated.raw);
        const expected = { ...before, ...updates[i] };
        for (const key of ['percentage', 'amount'] as const) if (typeof expected[key] === 'number') expected[key] = undefined;
        assert.deepEqual({ ...updated.body, percentage: undefined, amount: undefined }, { ...expected, percentage: undefined, amount: undefined });
        assert.deepEqual((await ctx.api('GET', `/v2/billing_rules/${token}`)).body, updated.body);
      }
      assert.equal((await ctx.api('GET', `/v2/billing_rules/${tokens[1]}`)).body.percentage, '0.7');
      assert.equal((await ctx.api('GET', `/v2/billing_rules/${tokens[2]}`)).body.amount, '1250.5');
      assert.equal((await ctx.api('GET', `/v2/billing_rules/${tokens[3]}`)).body.amount, '30.0');

      for (const token of tokens) {
        const deleted = await ctx.api('DELETE', `/v2/billing_rules/${token}`, {});
        assert.equal(deleted.status, 204);
        assert.equal(deleted.raw, '');
        const gone = await ctx.api('GET', `/v2/billing_rules/${token}`);
        assert.equal(gone.status, 404);
        assert.deepEqual(gone.body, { errors: ['Billing rule not found'] });
        assert.equal((await ctx.api('DELETE', `/v2/billing_rules/${token}`)).status, 404, 'a second DELETE is 404');
        assert.equal((await ctx.api('PUT', `/v2/billing_rules/${token}`, { title: 'Back' })).status, 404);
      }
      assert.deepEqual((await ctx.api('GET', '/v2/billing_rules')).body.billing_rules.map((r: { token: string }) => r.token), ctx.msp.rules);
    });

    test('pagination: oldest first, absolute links keeping other parameters, page past the end is []', async (t) => {
      const ctx = await setup(t, dialect.name);
      const tokens = [...ctx.msp.rules];
      for (let i = 0; i < 3; i++) tokens.push(await createRule(ctx, { title: `Rule ${i}`, type: 'exclusion', charge_type: 'Tax' }));
      const page2 = await ctx.api('GET', '/v2/billing_rules?limit=2&page=2&extra=kept');
      assert.equal(page2.status, 200);
      assert.deepEqual(page2.body.billing_rules.map((r: { token: string }) => r.token), tokens.slice(2, 4));
      assert.deepEqual(page2.body.links, {
        self: 'https://steward.test/v2/billing_rules?limit=2&page=2&extra=kept',
        first: 'https://steward.test/v2/billing_rules?limit=2&page=1&extra=kept',
        next: 'https://steward.test/v2/billing_rules?limit=2&page=3&extra=kept',
        last: 'https://steward.test/v2/billing_rules?limit=2&page=3&extra=kept',
        prev: 'https://steward.test/v2/billing_rules?limit=2&page=1&extra=kept',
      });
      const all = await ctx.api('GET', '/v2/billing_rules?limit=5000');
      assert.deepEqual(all.body.billing_rules.map((r: { token: string }) => r.token), tokens);
      assert.equal(all.body.links.next, null);
      const past = await ctx.api('GET', '/v2/billing_rules?page=9');
      assert.equal(past.status, 200);
      assert.deepEqual(past.body.billing_rules, []);
      assert.equal(past.body.links.next, null);
      const bad = await ctx.api('GET', '/v2/billing_rules?page=0');
      assert.equal(bad.status, 400);
      assert.match(errorsOf(bad), /page/);
    });

    test('validation: each type names its missing required field; bad SQL carries the parser reason; dates; decimals (C05)', async (t) => {
      const ctx = await setup(t, dialect.name);
      const before = await everything(ctx);
      const refused: Array<[Record<string, unknown>, RegExp]> = [
        [{ title: 'No type' }, /^type is required$/],
        [{ title: 'Null type', type: null }, /^type is required$/],
        [{ type: 'exclusion', charge_type: 'RIFee' }, /^title is required$/],
        [{ title: 'Bad type', type: 'discount' }, /^type must be one of exclusion, adjustment, credit, charge, custom$/],
        [{ title: '   ', type: 'exclusion', charge_type: 'RIFee' }, /title can't be blank/],
        [{ title: 'x'.repeat(256), type: 'exclusion', charge_type: 'RIFee' }, /title is too long \(maximum is 255 characters\)/],
        [{ title: 'Exclusion', type: 'exclusion' }, /^charge_type is required for exclusion rules$/],
        [{ title: 'Exclusion', type: 'exclusion', charge_type: '' }, /^charge_type is required for exclusion rules$/],
        [{ title: 'Adjustment', type: 'adjustment', service: 'Amazon S3' }, /^percentage is required for adjustment rules$/],
        [{ title: 'Adjustment', type: 'adjustment', percentage: -1 }, /^percentage must be a non-negative number$/],
        [{ title: 'Charge', type: 'charge', amount: 10, start_date: '2024-01-01' }, /^service is required for charge rules$/],
        [{ title: 'Charge', type: 'charge', service: 'MSP', start_date: '2024-01-01' }, /^amount is required for charge rules$/],
        [{ title: 'Charge', type: 'charge', service: 'MSP', amount: 10 }, /^start_date \(or the deprecated start_period\) is required for charge rules$/],
        [{ title: 'Credit', type: 'credit', service: 'MSP', amount: 0, start_date: '2024-01-01' }, /^amount must be a positive number$/],
        [{ title: 'Credit', type: 'credit', service: 'MSP', amount: -5, start_date: '2024-01-01' }, /^amount must be a positive number$/],
        [{ title: 'Custom', type: 'custom' }, /^sql_query is required for custom rules$/],
        [{ title: 'Custom', type: 'custom', sql_query: 'UPDATE costs SET' }, /^sql_query is not valid SQL: .+/],
        [{ title: 'Custom', type: 'custom', sql_query: 'SELECT * FROM costs' }, /^sql_query must be an UPDATE or DELETE on aws or costs, or an INSERT INTO costs \(got SELECT\)$/],
        [{ title: 'Custom', type: 'custom', sql_query: 'INSERT INTO aws (x) VALUES (1)' }, /INSERT may only target costs/],
        [{ title: 'Custom', type: 'custom', sql_query: 'DELETE FROM users' }, /got DELETE on users/],
        [{ title: 'Custom', type: 'custom', sql_query: 'UPDATE costs SET amount = 1; DELETE FROM costs' }, /exactly one statement/],
        [{ title: 'Dates', type: 'exclusion', charge_type: 'Tax', start_date: '2024-05-01', end_date: '2024-04-30' }, /^end_date must be on or after start_date \(2024-05-01\)$/],
        [{ title: 'Dates', type: 'exclusion', charge_type: 'Tax', start_date: '2024-02-30' }, /^start_date must be a date/],
        [{ title: 'Dates', type: 'exclusion', charge_type: 'Tax', end_date: 'tomorrow' }, /^end_date must be a date/],
        [{ title: 5, type: 'exclusion', charge_type: 'Tax' }, /^title must be a string$/],
        [{ title: 'Number as text', type: 'adjustment', percentage: '75' }, /^percentage must be a number$/],
        [{ title: 'Flag', type: 'exclusion', charge_type: 'Tax', apply_to_all: 'yes' }, /^apply_to_all must be a boolean$/],
        [{ title: 'Long SQL', type: 'custom', sql_query: `UPDATE costs SET amount = 1${' '.repeat(20_000)}` }, /^sql_query is too long \(maximum is 20000 characters\)$/],
        [{ title: 'Long service', type: 'adjustment', percentage: 5, service: 's'.repeat(256) }, /^service is too long \(maximum is 255 characters\)$/],
        [{ title: 'Control', type: 'exclusion', charge_type: 'RI\u0000Fee' }, /^charge_type must not contain the NUL character/],
        // From an attack run: each was a 500 on Postgres, stored altered, unbounded, or slowed the whole server.
        [{ title: 'NUL', type: 'custom', sql_query: "UPDATE aws SET x = '\u0000'" }, /^sql_query must not contain the NUL character/],
        [{ title: 'Surrogate', type: 'custom', sql_query: "UPDATE aws SET x = '\ud800'" }, /^sql_query must be valid Unicode text/],
        [{ title: 'Nested', type: 'custom', sql_query: 'UPDATE aws SET x = ' + '('.repeat(39) }, /^sql_query nests parentheses more than 32 levels deep/],
        [{ title: 'Slow', type: 'custom', sql_query: 'UPDATE aws SET x = ' + '('.repeat(30) }, /^sql_query is too complex to check/],
        [{ title: 'Long date', type: 'exclusion', charge_type: 'x', start_date: `2024-01-01T00:00:00.${'1'.repeat(1000)}Z` }, /^start_date must be a date/],
        [{ title: 'Period', type: 'charge', service: 'S', amount: 1, start_period: '2024-01-01', end_date: '2023-01-01' }, /^end_date must be on or after start_period \(2024-01-01\)$/],
        // eslint-disable-next-line no-loss-of-precision -- the point: more digits than a double keeps
        [{ title: 'Digits', type: 'charge', service: 'S', amount: 1234567890123456.78, start_date: '2024-01-01' }, /^amount has more digits than can be kept exactly/],
        // eslint-disable-next-line no-loss-of-precision -- the point: more digits than a double keeps
        [{ title: 'Huge', type: 'charge', service: 'S', amount: 99999999999999999999999.99, start_date: '2024-01-01' }, /^amount has more digits than can be kept exactly/],
        // eslint-disable-next-line no-loss-of-precision -- the point: more digits than a double keeps
        [{ title: 'Huge %', type: 'adjustment', percentage: 123456789012345678901234567890 }, /^percentage has more digits than can be kept exactly/],
      ];
      for (const [body, message] of refused) {
        const res = await ctx.api('POST', '/v2/billing_rules', body);
        assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.raw}`);
        assert.deepEqual(Object.keys(res.body), ['errors']);
        assert.ok(res.body.errors.some((m: string) => message.test(m)), `${JSON.stringify(body)}: ${res.raw}`);
      }
      // The parser's own reason reaches the caller.
      const syntax = await ctx.api('POST', '/v2/billing_rules', { title: 'Custom', type: 'custom', sql_query: 'UPDATE costs SET amount = amount *' });
      assert.match(errorsOf(syntax), /sql_query is not valid SQL: Expected .+ but end of input found/);
      assert.deepEqual(await everything(ctx), before, 'refused creates change nothing');

      // Decimals are exact strings (W8); dates echoed as sent (W9); end may equal start.
      for (const [sent, shown] of [[0.7, '0.7'], [300, '300.0'], [75.0, '75.0'], [0, '0.0'], [12.345, '12.345'], [1e-7, '0.0000001'], [150, '150.0']] as const) {
        const res = await ctx.api('POST', '/v2/billing_rules', { title: 'Pct', type: 'adjustment', percentage: sent });
        assert.equal(res.status, 201, res.raw);
        assert.equal(res.body.percentage, shown);
      }
      // 0.1 + 0.2 arrives as 0.30000000000000004: 17 significant digits, more than Steward promises to keep (W8).
      const noisy = await ctx.api('POST', '/v2/billing_rules', { title: 'Amt', type: 'credit', service: 'MSP', amount: 0.1 + 0.2, start_period: '2024-05-01' });
      assert.equal(noisy.status, 400, noisy.raw);
      assert.match(errorsOf(noisy), /^amount has more digits than can be kept exactly \(at most 15 significant digits/);
      for (const [sent, shown] of [[0.7, '0.7'], [300, '300.0'], [5000.25, '5000.25'], [123456789012.345, '123456789012.345']] as const) {
        const res = await ctx.api('POST', '/v2/billing_rules', { title: 'Amt', type: 'credit', service: 'MSP', amount: sent, start_period: '2024-05-01' });
        assert.equal(res.status, 201, res.raw);
        assert.equal(res.body.amount, shown);
        assert.equal(res.body.start_date, null, 'the deprecated start_period is enough of a start');
        assert.equal(res.body.start_period, '2024-05-01');
      }
      const same = await ctx.api('POST', '/v2/billing_rules', { title: 'One day', type: 'exclusion', charge_type: 'Tax', start_date: '2024-05-01', end_date: '2024-05-01T00:00:00Z' });
      assert.equal(same.status, 201, same.raw);
      assert.equal(same.body.start_date, '2024-05-01');
      assert.equal(same.body.end_date, '2024-05-01T00:00:00Z');
      const onlyEnd = await ctx.api('POST', '/v2/billing_rules', { title: 'Until', type: 'exclusion', charge_type: 'Tax', end_date: '2024-05-01' });
      assert.equal(onlyEnd.status, 201, onlyEnd.raw);
    });

    test('create: W2 unknown keys and W3 nulls ignored, fields of other types ignored and not stored, strings echoed exactly', async (t) => {
      const ctx = await setup(t, dialect.name);
      const res = await ctx.api('POST', '/v2/billing_rules', {
        title: '  Réduction “partenaire” 🚀  ',
        type: 'ExClUsIoN',
        charge_type: 'Reserved Instance Fees',
        percentage: 75,
        amount: 300,
        service: 'Amazon S3',
        sql_query: 'DELETE FROM costs',
        start_date: null,
        apply_to_all: null,
        adjusted_rate: '0.85',
        unknown_future_field: { nested: true },
      });
      assert.equal(res.status, 201, res.raw);
      assert.deepEqual(res.body, {
        token: res.body.token,
        title: '  Réduction “partenaire” 🚀  ',
        type: 'exclusion',
        start_date: null,
        end_date: null,
        apply_to_all: false,
        created_by_token: ctx.msp.accountToken,
        created_at: res.body.created_at,
        ...TYPE_SPECIFIC_NULLS,
        charge_type: 'Reserved Instance Fees',
        ...STAGE[3],
      });
      const custom = await ctx.api('POST', '/v2/billing_rules', { title: 'SQL', type: 'custom', sql_query: `  ${SQL[1]}\n\n` });
      assert.equal(custom.status, 201, custom.raw);
      assert.equal(custom.body.sql_query, `  ${SQL[1]}\n\n`, 'SQL is echoed byte for byte, newlines included');
    });

    test('PUT is partial: absent and null keep, the merged rule is validated, irrelevant fields ignored, type immutable', async (t) => {
      const ctx = await setup(t, dialect.name);
      const charge = await ctx.api('POST', '/v2/billing_rules', {
        title: 'Fee', type: 'charge', service: 'MSP', category: 'MSP Fee', amount: 300, start_date: '2024-05-01',
      });
      const path = `/v2/billing_rules/${charge.body.token}`;

      const nothing = await ctx.api('PUT', path, {});
      assert.equal(nothing.status, 200);
      assert.deepEqual(nothing.body, charge.body);
      const nulls = await ctx.api('PUT', path, { title: null, service: null, amount: null, start_date: null, apply_to_all: null, type: null });
      assert.equal(nulls.status, 200, nulls.raw);
      assert.deepEqual(nulls.body, charge.body, 'null is the same as absent (W3)');

      const other = await ctx.api('PUT', path, { charge_type: 'RIFee', percentage: 5, sql_query: 'DELETE FROM costs', sub_category: 'Monthly', extra: 1 });
      assert.equal(other.status, 200, other.raw);
      assert.deepEqual(other.body, { ...charge.body, sub_category: 'Monthly' }, 'fields a charge does not use are ignored');

      const sameType = await ctx.api('PUT', path, { type: 'Charge', title: 'Fee 2' });
      assert.equal(sameType.status, 200, sameType.raw);
      assert.equal(sameType.body.title, 'Fee 2');
      assert.equal(sameType.body.type, 'charge');

      const snapshot = await everything(ctx);
      const refused: Array<[Record<string, unknown>, RegExp]> = [
        [{ type: 'credit' }, /^type cannot be changed \(this is a charge rule\); create a new rule instead$/],
        [{ type: 'credit', title: 'Changed too' }, /^type cannot be changed/],
        [{ end_date: '2024-04-30' }, /^end_date must be on or after start_date \(2024-05-01\)$/],
        [{ start_date: '2024-06-01', end_date: '2024-05-31' }, /^end_date must be on or after start_date \(2024-06-01\)$/],
        [{ amount: 0 }, /^amount must be a positive number$/],
        [{ service: '' }, /^service is required for charge rules$/],
        [{ title: '' }, /title can't be blank/],
        [{ title: 'x'.repeat(256) }, /title is too long/],
        [{ start_date: 'soon' }, /^start_date must be a date/],
        [{ amount: '300' }, /^amount must be a number$/],
      ];
      for (const [body, message] of refused) {
        const res = await ctx.api('PUT', path, body);
        assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.raw}`);
        assert.ok(res.body.errors.some((m: string) => message.test(m)), `${JSON.stringify(body)}: ${res.raw}`);
      }
      assert.deepEqual(await everything(ctx), snapshot, 'refused updates change nothing');

      // Optional text can be cleared with "" (stored as null), dates may move together.
      const cleared = await ctx.api('PUT', path, { category: '', start_date: '2024-06-01', end_date: '2024-06-30' });
      assert.equal(cleared.status, 200, cleared.raw);
      assert.equal(cleared.body.category, null);
      assert.equal(cleared.body.start_date, '2024-06-01');
      assert.equal(cleared.body.end_date, '2024-06-30');

      // Adjustments: percentage required stays satisfied by the stored value; a custom rule's SQL is re-checked.
      const adjustment = ctx.msp.rules[0] as string;
      const pct = await ctx.api('PUT', `/v2/billing_rules/${adjustment}`, { service: 'Amazon EC2' });
      assert.equal(pct.status, 200);
      assert.equal(pct.body.percentage, '90.0');
      const custom = await createRule(ctx, { title: 'SQL', type: 'custom', sql_query: SQL[3] });
      const badSql = await ctx.api('PUT', `/v2/billing_rules/${custom}`, { sql_query: 'DROP TABLE costs' });
      assert.equal(badSql.status, 400);
      assert.match(errorsOf(badSql), /sql_query/);
      const blankSql = await ctx.api('PUT', `/v2/billing_rules/${custom}`, { sql_query: ' ' });
      assert.equal(blankSql.status, 400);
      assert.match(errorsOf(blankSql), /^sql_query is required for custom rules$/);
      assert.equal((await ctx.api('GET', `/v2/billing_rules/${custom}`)).body.sql_query, SQL[3]);

      const unknown = await ctx.api('PUT', `/v2/billing_rules/${NEVER}`, { title: 'x' });
      assert.equal(unknown.status, 404);
      assert.deepEqual(unknown.body, { errors: ['Billing rule not found'] });
      const malformed = await ctx.api('PUT', '/v2/billing_rules/not-a-token', { title: 'x' });
      assert.equal(malformed.raw, unknown.raw);
    });

    test('ordering across all four stages: accepted orders stored as sent, misorders refused with nothing changed', async (t) => {
      const ctx = await setup(t, dialect.name);
      const [adj1, adj2] = ctx.msp.rules as [string, string]; // stage 3
      const aws = await createRule(ctx, { title: 'CUR rerate', type: 'custom', sql_query: SQL[1] }); // 1
      const charge = await createRule(ctx, { title: 'Fee', type: 'charge', service: 'MSP', amount: 300, start_date: '2024-05-01' }); // 2
      const credit = await createRule(ctx, { title: 'Credit', type: 'credit', service: 'MSP', amount: 10, start_date: '2024-05-01' }); // 2
      const insert = await createRule(ctx, { title: 'Support line', type: 'custom', sql_query: SQL[2] }); // 2
      const exclusion = await createRule(ctx, { title: 'No RI fees', type: 'exclusion', charge_type: 'RIFee' }); // 3
      const updateCosts = await createRule(ctx, { title: 'Discount', type: 'custom', sql_query: SQL[3] }); // 3
      const deleteCosts = await createRule(ctx, { title: 'Drop tax', type: 'custom', sql_query: SQL[3.5] }); // 3
      const monthly = await createRule(ctx, { title: 'Fee on spend', type: 'custom', sql_query: SQL[4] }); // 4

      const accepted = [
        [aws, insert, credit, charge, deleteCosts, adj2, exclusion, updateCosts, adj1, monthly],
        [aws, charge, insert, credit, adj1, updateCosts, exclusion, deleteCosts, adj2, monthly],
        [monthly],
        [charge, monthly],
        [aws, monthly],
        [adj2, adj1],
      ];
      const account = await createAccount(ctx, accepted[0]);
      assert.equal(account.status, 201, account.raw);
      assert.deepEqual(account.body.billing_rule_tokens, accepted[0]);
      for (const order of accepted) {
        const created = await createAccount(ctx, order);
        assert.equal(created.status, 201, created.raw);
        assert.deepEqual(created.body.billing_rule_tokens, order, 'POST keeps the order sent');
        const put = await ctx.api('PUT', `/v2/managed_accounts/${account.body.token}`, { billing_rule_tokens: order });
        assert.equal(put.status, 200, put.raw);
        assert.deepEqual(put.body.billing_rule_tokens, order, 'PUT keeps the order sent');
        assert.deepEqual(await rulesOf(ctx, account.body.token), order);
      }

      const before = await everything(ctx);
      const misordered = [
        [charge, aws], // 2 before 1
        [adj1, insert], // 3 before 2
        [exclusion, aws], // 3 before 1
        [monthly, deleteCosts], // 4 before 3
        [monthly, aws], // 4 before 1
        [aws, charge, monthly, adj1], // 4 before 3, late in the list
        [aws, updateCosts, credit, monthly], // 3 before 2 in the middle
      ];
      for (const order of misordered) {
        const post = await createAccount(ctx, order);
        assert.equal(post.status, 400, post.raw);
        assert.match(errorsOf(post), /billing_rule_tokens must be ordered by execution group/);
        const put = await ctx.api('PUT', `/v2/managed_accounts/${account.body.token}`, { name: 'Renamed', billing_rule_tokens: order });
        assert.equal(put.status, 400, put.raw);
        assert.match(errorsOf(put), /billing_rule_tokens must be ordered by execution group/);
      }
      assert.deepEqual(await everything(ctx), before, 'refused requests change nothing');
    });

    test('apply-to-all: on account create each lands at the end of its own stage; turning it on attaches, off detaches nothing', async (t) => {
      const ctx = await setup(t, dialect.name);
      const [adj1] = ctx.msp.rules as [string, string];
      const aws = await createRule(ctx, { title: 'CUR rerate', type: 'custom', sql_query: SQL[1] });
      const fee = await createRule(ctx, { title: 'Fee', type: 'charge', service: 'MSP', amount: 300, start_date: '2024-05-01' });
      const monthly = await createRule(ctx, { title: 'Fee on spend', type: 'custom', sql_query: SQL[4] });
      const existing = await createAccount(ctx, [aws, fee, adj1, monthly]);
      const empty = await createAccount(ctx);
      assert.deepEqual(empty.body.billing_rule_tokens, []);

      // Created with apply_to_all: attached to every existing account at the end of its stage.
      const allAws = await createRule(ctx, { title: 'Drop tax lines', type: 'custom', sql_query: "DELETE FROM aws WHERE \"lineItem/LineItemType\" = 'Tax'", apply_to_all: true });
      const allMonthly = await createRule(ctx, { title: 'Platform fee', type: 'custom', sql_query: SQL[4].replace('0.05', '0.01'), apply_to_all: true });
      const allCredit = await createRule(ctx, { title: 'Loyalty', type: 'credit', service: 'MSP', amount: 25.5, start_date: '2024-01-01', apply_to_all: true });
      assert.deepEqual(await rulesOf(ctx, existing.body.token), [aws, allAws, fee, allCredit, adj1, monthly, allMonthly]);
      assert.deepEqual(await rulesOf(ctx, empty.body.token), [allAws, allCredit, allMonthly]);

      // New accounts get every apply-to-all rule, in creation order, each at the end of its stage.
      const created = await createAccount(ctx, [aws, fee, adj1, monthly]);
      assert.deepEqual(created.body.billing_rule_tokens, [aws, allAws, fee, allCredit, adj1, monthly, allMonthly]);

      // Turning apply_to_all on (rules from stages 2 and 3) attaches them wherever missing, at the end of their stage.
      const exclusion = await createRule(ctx, { title: 'No RI fees', type: 'exclusion', charge_type: 'RIFee' });
      const insert = await createRule(ctx, { title: 'Support', type: 'custom', sql_query: SQL[2] });
      const holder = await createAccount(ctx, [exclusion]);
      assert.deepEqual(holder.body.billing_rule_tokens, [allAws, allCredit, exclusion, allMonthly]);
      const on = await ctx.api('PUT', `/v2/billing_rules/${exclusion}`, { apply_to_all: true });
      assert.equal(on.status, 200, on.raw);
      assert.equal(on.body.apply_to_all, true);
      const on2 = await ctx.api('PUT', `/v2/billing_rules/${insert}`, { apply_to_all: true, title: 'Support (all)' });
      assert.equal(on2.status, 200, on2.raw);
      assert.deepEqual(await rulesOf(ctx, existing.body.token), [aws, allAws, fee, allCredit, insert, adj1, exclusion, monthly, allMonthly]);
      assert.deepEqual(await rulesOf(ctx, empty.body.token), [allAws, allCredit, insert, exclusion, allMonthly]);
      assert.deepEqual(await rulesOf(ctx, holder.body.token), [allAws, allCredit, insert, exclusion, allMonthly], 'an account that had it keeps its place');

      // On managed-account update the list is authoritative; sending apply_to_all: true again re-attaches nothing.
      const pruned = await ctx.api('PUT', `/v2/managed_accounts/${empty.body.token}`, { billing_rule_tokens: [allAws] });
      assert.deepEqual(pruned.body.billing_rule_tokens, [allAws]);
      const again = await ctx.api('PUT', `/v2/billing_rules/${exclusion}`, { apply_to_all: true, title: 'No RI fees!' });
      assert.equal(again.status, 200);
      assert.deepEqual(await rulesOf(ctx, empty.body.token), [allAws]);

      // true → false detaches nothing, and new accounts no longer receive it.
      const off = await ctx.api('PUT', `/v2/billing_rules/${allCredit}`, { apply_to_all: false });
      assert.equal(off.status, 200);
      assert.equal(off.body.apply_to_all, false);
      assert.deepEqual(await rulesOf(ctx, existing.body.token), [aws, allAws, fee, allCredit, insert, adj1, exclusion, monthly, allMonthly]);
      const later = await createAccount(ctx);
      assert.deepEqual(later.body.billing_rule_tokens, [allAws, insert, exclusion, allMonthly]);
    });

    test('changing a custom rule\'s SQL recomputes its stage; a change that would misorder any account is a 400 naming sql_query', async (t) => {
      const ctx = await setup(t, dialect.name);
      const [adj1] = ctx.msp.rules as [string, string];
      const fee = await createRule(ctx, { title: 'Fee', type: 'charge', service: 'MSP', amount: 300, start_date: '2024-05-01' }); // 2
      const custom = await createRule(ctx, { title: 'Movable', type: 'custom', sql_query: SQL[3] }); // 3
      const a = await createAccount(ctx, [fee, custom, adj1]);
      const b = await createAccount(ctx, [custom]);
      const before = await everything(ctx);

      // Stage 3 → 1 would put it after the stage-2 fee on account a.
      const toAws = await ctx.api('PUT', `/v2/billing_rules/${custom}`, { sql_query: SQL[1], title: 'Now on CUR' });
      assert.equal(toAws.status, 400, toAws.raw);
      assert.equal(toAws.body.errors.length, 1, 'only account a is affected');
      assert.match(toAws.body.errors[0], new RegExp(`^sql_query would move this rule from COST transforms to AWS transforms, which breaks the execution-group order of managed account ${a.body.token}'s billing_rule_tokens \\(${custom} would run after ${fee}\\)`));
      // Stage 3 → 4 would put it before the stage-3 adjustment on account a.
      const toMonthly = await ctx.api('PUT', `/v2/billing_rules/${custom}`, { sql_query: SQL[4] });
      assert.equal(toMonthly.status, 400, toMonthly.raw);
      assert.match(errorsOf(toMonthly), new RegExp(`${adj1} would run after ${custom}`));
      assert.deepEqual(await everything(ctx), before, 'nothing changed');

      // Within the same stage any statement is fine; stage 3 → 2 keeps [fee, custom, adj1] ordered.
      const sameStage = await ctx.api('PUT', `/v2/billing_rules/${custom}`, { sql_query: SQL[3.5] });
      assert.equal(sameStage.status, 200, sameStage.raw);
      const toInsert = await ctx.api('PUT', `/v2/billing_rules/${custom}`, { sql_query: SQL[2] });
      assert.equal(toInsert.status, 200, toInsert.raw);
      assert.equal(toInsert.body.sql_query, SQL[2]);
      // The stored stage is now 2: [custom, fee] is accepted, [adj1, custom] is not.
      assert.equal((await ctx.api('PUT', `/v2/managed_accounts/${b.body.token}`, { billing_rule_tokens: [custom, fee] })).status, 200);
      const late = await ctx.api('PUT', `/v2/managed_accounts/${b.body.token}`, { billing_rule_tokens: [adj1, custom] });
      assert.equal(late.status, 400);
      assert.match(errorsOf(late), new RegExp(`${custom} \\(COST inserts\\) cannot come after ${adj1} \\(COST transforms\\)`));

      // Once no account would be misordered, the move to stage 1 is allowed.
      await ctx.api('PUT', `/v2/managed_accounts/${a.body.token}`, { billing_rule_tokens: [custom, fee, adj1] });
      const moved = await ctx.api('PUT', `/v2/billing_rules/${custom}`, { sql_query: SQL[1] });
      assert.equal(moved.status, 200, moved.raw);
      assert.deepEqual(await rulesOf(ctx, a.body.token), [custom, fee, adj1]);
    });

    test('DELETE removes the rule from every managed account\'s list (M9), keeping the others in order', async (t) => {
      const ctx = await setup(t, dialect.name);
      const [adj1, adj2] = ctx.msp.rules as [string, string];
      const aws = await createRule(ctx, { title: 'CUR', type: 'custom', sql_query: SQL[1] });
      const monthly = await createRule(ctx, { title: 'Monthly', type: 'custom', sql_query: SQL[4] });
      const a = await createAccount(ctx, [aws, adj2, adj1, monthly]);
      const b = await createAccount(ctx, [adj1]);
      const c = await createAccount(ctx, [monthly]);

      assert.equal((await ctx.api('DELETE', `/v2/billing_rules/${adj1}`)).status, 204);
      assert.deepEqual(await rulesOf(ctx, a.body.token), [aws, adj2, monthly]);
      assert.deepEqual(await rulesOf(ctx, b.body.token), []);
      assert.deepEqual(await rulesOf(ctx, c.body.token), [monthly]);
      const list = await ctx.api('GET', '/v2/managed_accounts?limit=1000');
      assert.ok(!list.raw.includes(adj1), 'no account lists the deleted rule');
      assert.equal((await ctx.api('GET', `/v2/billing_rules/${adj1}`)).status, 404);

      // The survivors still behave: the list can be extended and reordered within a stage.
      const put = await ctx.api('PUT', `/v2/managed_accounts/${a.body.token}`, { billing_rule_tokens: [aws, adj2, monthly] });
      assert.equal(put.status, 200);
      // A deleted rule named in a list is an unknown token.
      const named = await ctx.api('PUT', `/v2/managed_accounts/${a.body.token}`, { billing_rule_tokens: [adj1] });
      assert.equal(named.status, 400);
      assert.match(errorsOf(named), new RegExp(`billing_rule_tokens contains ${adj1}`));
    });

    test('another MSP\'s rules are 404 exactly like rules that never existed, and stay untouched (A5)', async (t) => {
      const ctx = await setup(t, dialect.name);
      const { app } = ctx;
      const other = await seedMsp(ctx.store, 'MSP B');
      const mine = ctx.msp.rules[0] as string;
      for (const [method, body] of [['GET', undefined], ['PUT', { title: 'Hijack' }], ['PUT', { title: '' }], ['DELETE', undefined]] as const) {
        const foreign = await call(app, method, `/v2/billing_rules/${mine}`, { token: other.token, body });
        const never = await call(app, method, `/v2/billing_rules/${NEVER}`, { token: other.token, body });
        assert.equal(foreign.status, 404);
        assert.equal(foreign.raw, never.raw);
      }
      const theirs = await call(app, 'GET', '/v2/billing_rules', { token: other.token });
      assert.deepEqual(theirs.body.billing_rules.map((r: { token: string }) => r.token), other.rules);
      const still = await ctx.api('GET', `/v2/billing_rules/${mine}`);
      assert.equal(still.status, 200);
      assert.equal(still.body.title, 'R1');
    });

    test('concurrent rule PUTs (moving a custom rule between stages) and account PUTs never leave a list out of order', async (t) => {
      const ctx = await setup(t, dialect.name);
      const fee = await createRule(ctx, { title: 'Fee', type: 'charge', service: 'MSP', amount: 1, start_date: '2024-01-01' }); // 2
      const custom = await createRule(ctx, { title: 'Movable', type: 'custom', sql_query: SQL[3] }); // 3 ⇄ 1
      const accounts = [(await createAccount(ctx, [fee])).body.token, (await createAccount(ctx, [fee])).body.token] as string[];
      const stageOf = async () => ((await ctx.api('GET', `/v2/billing_rules/${custom}`)).body.sql_query === SQL[1] ? 1 : 3);
      for (let round = 0; round < 6; round++) {
        const results = await Promise.all([
          ctx.api('PUT', `/v2/billing_rules/${custom}`, { sql_query: round % 2 === 0 ? SQL[1] : SQL[3] }),
          ...accounts.map((account, i) =>
            ctx.api('PUT', `/v2/managed_accounts/${account}`, { billing_rule_tokens: (round + i) % 2 === 0 ? [fee, custom] : [custom, fee] }),
          ),
        ]);
        for (const res of results) assert.ok(res.status === 200 || res.status === 400, res.raw);
        const stage = await stageOf();
        for (const account of accounts) {
          const list = await rulesOf(ctx, account);
          if (list.length === 2 && list[1] === custom) assert.ok(stage >= 2, `round ${round}: [fee, custom] with custom in stage ${stage}`);
          if (list.length === 2 && list[0] === custom) assert.ok(stage <= 2, `round ${round}: [custom, fee] with custom in stage ${stage}`);
        }
      }
    });

    test('concurrent account creates racing rule writes: no misordered list, no account missed by apply-to-all, never a 500', async (t) => {
      const ctx = await setup(t, dialect.name);
      const fee = await createRule(ctx, { title: 'Fee', type: 'charge', service: 'MSP', amount: 1, start_date: '2024-01-01' }); // 2
      for (let round = 0; round < 4; round++) {
        const movable = await createRule(ctx, { title: `Movable ${round}`, type: 'custom', sql_query: SQL[3] }); // 3, about to become 1
        const everywhere = await createRule(ctx, { title: `Everywhere ${round}`, type: 'exclusion', charge_type: 'Tax' }); // about to be apply-to-all
        const results = await Promise.all([
          ctx.api('PUT', `/v2/billing_rules/${movable}`, { sql_query: SQL[1] }),
          ctx.api('PUT', `/v2/billing_rules/${everywhere}`, { apply_to_all: true }),
          ...[0, 1, 2].map(() => createAccount(ctx, [fee, movable])),
        ]);
        for (const res of results) assert.ok(res.status === 200 || res.status === 201 || res.status === 400, res.raw);
        assert.equal(results[1]?.status, 200, 'turning apply_to_all on never conflicts');
        const stage = (await ctx.api('GET', `/v2/billing_rules/${movable}`)).body.sql_query === SQL[1] ? 1 : 3;
        const created = results.slice(2).filter((r) => r.status === 201);
        if (results[0]?.status === 200) assert.equal(stage, 1);
        for (const account of created) {
          const list = await rulesOf(ctx, account.body.token);
          assert.ok(list.includes(everywhere), `round ${round}: an account created during the switch lacks the apply-to-all rule: ${list}`);
          if (list.indexOf(movable) > list.indexOf(fee)) assert.equal(stage, 3, `round ${round}: [fee, movable] stored with movable in stage 1`);
        }
        assert.ok(results[0]?.status === 200 || created.length > 0, 'one side of each race wins');
        // Rules created during the round that are not apply-to-all stay out of later accounts.
        await ctx.api('PUT', `/v2/billing_rules/${everywhere}`, { apply_to_all: false });
      }
    });
  });
}
