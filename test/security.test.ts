import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createApiToken, revokeApiToken } from '../src/domain/accounts.ts';
import { hashApiToken } from '../src/domain/tokens.ts';
import type { Store } from '../src/store/database.ts';
import type { Database } from '../src/store/schema.ts';
import { call, DIALECTS, nonMspToken, seedMsp, testApp, uniqueEmail, type DialectUnderTest, type Response } from './helpers/app.ts';
import { auditLogs } from './matrix/audit-logs.ts';
import { billingProfiles } from './matrix/billing-profiles.ts';
import { billingRules } from './matrix/billing-rules.ts';
import { integrations } from './matrix/integrations.ts';
import { managedAccounts } from './matrix/managed-accounts.ts';
import { me } from './matrix/me.ts';
import { ssoConnections } from './matrix/sso-connections.ts';
import { uniqueDomain, type Area, type Method, type ParamSpec, type RouteSpec, type Tenant, type World } from './matrix/types.ts';

/**
 * Security matrix (DECISIONS A1–A5, W6): every /v2 route that needs a token, against every way of calling it
 * without the right to. Routes are listed per area in test/matrix/*.ts (one row per route, plus a params entry for
 * a new path parameter); the first test fails until every authenticated operation in the OpenAPI document is listed.
 */
const AREAS: Area[] = [managedAccounts, ssoConnections, billingRules, integrations, billingProfiles, me, auditLogs];
const ROUTES: RouteSpec[] = AREAS.flatMap((a) => a.routes);
const PATH_PARAMS: Record<string, ParamSpec> = Object.assign({}, ...AREAS.map((a) => a.params ?? {}));

const UNKNOWN_RULE = 'bllng_rule_0000000000000000';
const UNKNOWN_INTEGRATION = 'accss_crdntl_0000000000000000';
const MISSING = 'Bearer realm="steward"';
const INVALID = 'Bearer realm="steward", error="invalid_token"';
const insufficient = (scope: 'read' | 'write') => `Bearer error="insufficient_scope", scope="${scope}"`;
const NOT_MSP_BODY = '{"errors":["You do not have permission to access this resource."]}';
/** Tables whose rows must not move when a request is refused (api_tokens is left out: it is auth's own state). */
const DATA_TABLES = [...new Set(AREAS.flatMap((a) => a.tables ?? []))] as Array<keyof Database>;

async function tenant(app: FastifyInstance, store: Store, name: string, accounts: number): Promise<Tenant> {
  const msp = await seedMsp(store, name);
  const managedAccounts: string[] = [];
  for (let i = 0; i < accounts; i++) {
    const res = await call(app, 'POST', '/v2/managed_accounts', {
      token: msp.token,
      body: {
        name: `${name} customer ${i}`,
        contact_email: uniqueEmail('customer'),
        email_domain: uniqueDomain(),
        billing_rule_tokens: [msp.rules[0]],
        access_credential_tokens: [msp.integrations[0]],
      },
    });
    assert.equal(res.status, 201, res.raw);
    managedAccounts.push(res.body.token);
  }
  const t: Tenant = { ...msp, managedAccounts, extra: {} };
  for (const area of AREAS) await area.prepare?.(app, store, t);
  return t;
}

async function world(t: TestContext, dialect: DialectUnderTest['name']): Promise<World> {
  const { app, db } = await testApp(t, dialect);
  const store = db.store;
  const a = await tenant(app, store, 'MSP A', 2);
  const b = await tenant(app, store, 'MSP B', 1);
  const fresh = async (accountToken: string) => (await createApiToken(store.db, { accountToken, scopes: 'read,write' })).token;
  const revoked = await fresh(a.accountToken);
  await revokeApiToken(store.db, revoked);
  const expired = await fresh(a.accountToken);
  await store.db.updateTable('api_tokens').set({ expires_at: '2000-01-01T00:00:00Z' }).where('token_hash', '=', hashApiToken(expired)).execute();
  return {
    app,
    store,
    a,
    b,
    badAuthorizations: [
      ['a malformed token', 'Bearer not-a-real-token'],
      ['a well-formed unknown token', `Bearer vntg_tkn_${randomBytes(20).toString('hex')}`],
      ['a revoked token', `Bearer ${revoked}`],
      ['an expired token', `Bearer ${expired}`],
      ['the Basic scheme', 'Basic abc'],
      ['an empty Bearer', 'Bearer '],
      ['a bare "Bearer"', 'Bearer'],
      ['a valid token under another scheme', `Token ${a.token}`],
      ['a valid token with trailing garbage', `Bearer ${a.token} extra`],
      ['a valid token in upper case', `Bearer ${a.token.toUpperCase()}`],
    ],
    nonMsp: [
      ['a plain customer account', await nonMspToken(store)],
      ["one of A's managed accounts", await fresh(a.managedAccounts[0] as string)],
    ],
  };
}

function fill(route: RouteSpec, pick: (p: ParamSpec) => string): string {
  return route.path.replace(/\{(\w+)\}/g, (_match, name: string) => {
    const param = route.params?.[name] ?? PATH_PARAMS[name];
    if (!param) throw new Error(`PATH_PARAMS has no entry for {${name}}`);
    return pick(param);
  });
}

const ownPath = (route: RouteSpec, t: Tenant, i = 0) => fill(route, (p) => p.of(t, i));
const label = (route: RouteSpec) => `${route.method} ${route.path}`;
const hasParams = (route: RouteSpec) => /\{\w+\}/.test(route.path);

/** W6: every response names its request and is JSON. */
function assertEnvelope(res: Response, what: string): void {
  const id = res.headers['x-request-id'];
  assert.equal(typeof id, 'string', `${what}: x-request-id header`);
  assert.notEqual(id, '', `${what}: x-request-id header`);
  assert.match(String(res.headers['content-type']), /^application\/json(;|$)/, `${what}: content-type`);
}

/** W6: `{"errors": [...]}` and nothing else, every message a non-empty string. */
function assertErrors(res: Response, status: number, what: string): void {
  assert.equal(res.status, status, `${what}: ${res.raw}`);
  assertEnvelope(res, what);
  assert.deepEqual(Object.keys(res.body), ['errors'], `${what}: ${res.raw}`);
  assert.ok(Array.isArray(res.body.errors) && res.body.errors.length > 0, `${what}: ${res.raw}`);
  for (const message of res.body.errors) assert.ok(typeof message === 'string' && message.trim() !== '', `${what}: ${res.raw}`);
}

/** Everything a caller could observe or the database holds, read with the owners' full tokens. */
async function snapshot(w: World): Promise<unknown> {
  const api: Record<string, unknown> = {};
  for (const t of [w.a, w.b]) {
    const list = await call(w.app, 'GET', '/v2/managed_accounts?limit=1000', { token: t.token });
    assert.equal(list.status, 200, list.raw);
    api[`${t.accountToken} list`] = list.body;
    for (const token of list.body.managed_accounts.map((m: { token: string }) => m.token)) {
      const one = await call(w.app, 'GET', `/v2/managed_accounts/${token}`, { token: t.token });
      assert.equal(one.status, 200, one.raw);
      api[token] = one.body;
    }
  }
  const rows: Record<string, string[]> = {};
  for (const table of DATA_TABLES) {
    rows[table] = (await w.store.db.selectFrom(table).selectAll().execute()).map((r) => JSON.stringify(r)).sort();
  }
  return { api, rows };
}

/** Headers that must match between two responses that claim to be the same answer. */
function comparableHeaders(res: Response): Record<string, unknown> {
  // Per-request values: the request id, the date, and the rate-limit counter that every call moves.
  return Object.fromEntries(
    Object.entries(res.headers).filter(([name]) => name !== 'x-request-id' && name !== 'date' && !name.startsWith('x-rate-limit-')),
  );
}

for (const dialect of DIALECTS) {
  describe(`security matrix [${dialect.name}]`, { skip: dialect.skip }, () => {
    test('ROUTES lists exactly the authenticated /v2 operations, with the documented scope; only ping is public', async (t) => {
      const { app } = await testApp(t, dialect.name);
      await app.ready();
      const doc = app.swagger() as { paths: Record<string, Record<string, { security?: Array<Record<string, string[]>> }>> };
      const guarded: string[] = [];
      const open: string[] = [];
      for (const [path, operations] of Object.entries(doc.paths)) {
        if (!path.startsWith('/v2/')) continue;
        for (const [method, operation] of Object.entries(operations)) {
          const key = `${method.toUpperCase()} ${path}`;
          if (operation.security && operation.security.length > 0) guarded.push(key);
          else open.push(key);
          const route = ROUTES.find((r) => label(r) === key);
          if (route) assert.deepEqual(operation.security, [{ oauth2: [route.scope] }], `${key}: documented security`);
        }
      }
      assert.deepEqual(guarded.sort(), ROUTES.map(label).sort(), 'every authenticated operation has a row in ROUTES, and no row is stale');
      assert.deepEqual(open, ['GET /v2/ping']);
      for (const route of ROUTES) {
        for (const name of route.path.match(/\{(\w+)\}/g) ?? []) assert.ok(route.params?.[name.slice(1, -1)] ?? PATH_PARAMS[name.slice(1, -1)], `${label(route)}: PATH_PARAMS entry for ${name}`);
      }
    });

    test('GET /v2/ping needs no token, ignores a bad one, and like a 404 carries x-request-id and JSON', async (t) => {
      const { app } = await testApp(t, dialect.name);
      const ids = new Set<string>();
      for (const headers of [{}, { authorization: 'Bearer not-a-real-token' }, { authorization: 'Basic abc' }] as Array<Record<string, string>>) {
        const res = await call(app, 'GET', '/v2/ping', { headers });
        assert.equal(res.status, 200, res.raw);
        assert.deepEqual(res.body, { status: 'ok' });
        assertEnvelope(res, `ping with ${JSON.stringify(headers)}`);
        assert.equal(res.headers['www-authenticate'], undefined);
        ids.add(String(res.headers['x-request-id']));
      }
      const unknown = await call(app, 'GET', '/v2/no_such_route');
      assertErrors(unknown, 404, 'unknown route');
      ids.add(String(unknown.headers['x-request-id']));
      assert.equal(ids.size, 4, 'each response has its own request id');
    });

    for (const route of ROUTES) {
      describe(label(route), () => {
        test('the owner with a sufficient token succeeds (control), including a token with only that scope', async (t) => {
          const w = await world(t, dialect.name);
          const exact = route.scope === 'read' ? w.a.readOnly : w.a.writeOnly;
          for (const [i, token] of [exact, w.a.token].entries()) {
            const res = await call(w.app, route.method, ownPath(route, w.a, i), { token, body: route.body?.(w) });
            assert.equal(res.status, route.ok, `${label(route)}: ${res.raw}`);
            assert.equal(typeof res.headers['x-request-id'], 'string');
            if (res.status !== 204) assertEnvelope(res, label(route));
          }
        });

        test('no Authorization header: 401 with errors and a WWW-Authenticate without an error attribute', async (t) => {
          const w = await world(t, dialect.name);
          const before = await snapshot(w);
          const res = await call(w.app, route.method, ownPath(route, w.a), { body: route.body?.(w) });
          assertErrors(res, 401, `${label(route)} without a token`);
          assert.equal(res.headers['www-authenticate'], MISSING);
          if (route.method !== 'GET') {
            // Authentication comes before the body is read: a broken body still gets the 401.
            for (const [body, contentType] of [['{"name":', 'application/json'], ['name=x', 'application/x-www-form-urlencoded']]) {
              const broken = await call(w.app, route.method, ownPath(route, w.a), { body, headers: { 'content-type': contentType as string } });
              assertErrors(broken, 401, `${label(route)} without a token and with ${contentType}`);
              assert.equal(broken.headers['www-authenticate'], MISSING);
            }
          }
          assert.deepEqual(await snapshot(w), before, 'a refused request changes nothing');
        });

        test('a bad credential: 401 invalid_token, the credential is not echoed, nothing changes', async (t) => {
          const w = await world(t, dialect.name);
          const before = await snapshot(w);
          for (const [what, authorization] of w.badAuthorizations) {
            const res = await call(w.app, route.method, ownPath(route, w.a), { body: route.body?.(w), headers: { authorization } });
            assertErrors(res, 401, `${label(route)} with ${what}`);
            assert.equal(res.headers['www-authenticate'], INVALID, `${label(route)} with ${what}`);
            const secret = authorization.split(' ')[1];
            if (secret && secret.length > 8) assert.ok(!res.raw.includes(secret), `${what}: the credential is echoed back`);
            if (route.method !== 'GET') assert.deepEqual(await snapshot(w), before, `${label(route)} with ${what} changed data`);
          }
          assert.deepEqual(await snapshot(w), before);
        });

        test(`a token without the ${route.scope} scope: 403 insufficient_scope, nothing changes`, async (t) => {
          const w = await world(t, dialect.name);
          const before = await snapshot(w);
          const wrong = route.scope === 'read' ? w.a.writeOnly : w.a.readOnly;
          const res = await call(w.app, route.method, ownPath(route, w.a), { token: wrong, body: route.body?.(w) });
          assertErrors(res, 403, `${label(route)} with the wrong scope`);
          assert.equal(res.headers['www-authenticate'], insufficient(route.scope));
          assert.deepEqual(await snapshot(w), before, 'a refused request changes nothing');
        });

        if (route.openToNonMsp) {
          test("an account that is not an MSP may call it, but only sees and changes its own (A5)", async (t) => {
            const w = await world(t, dialect.name);
            const before = await snapshot(w);
            const own = [...w.a.managedAccounts, ...w.a.rules, ...w.a.integrations, ...Object.values(w.a.extra).flat()];
            for (const [what, token] of w.nonMsp) {
              const res = await call(w.app, route.method, ownPath(route, w.a), { token, body: route.body?.(w) });
              if (hasParams(route)) assertErrors(res, 404, `${label(route)} as ${what} on A's resource`);
              else assert.equal(res.status, route.ok, `${label(route)} as ${what}: ${res.raw}`);
              for (const secret of own) assert.ok(!res.raw.includes(secret), `${label(route)} as ${what} shows A's ${secret}`);
              if (hasParams(route) || route.method === 'GET') assert.deepEqual(await snapshot(w), before, `${label(route)} as ${what} changed data`);
            }
          });
        } else test('an account that is not an MSP: 403 with exactly Vantage\'s body, nothing changes', async (t) => {
          const w = await world(t, dialect.name);
          const before = await snapshot(w);
          for (const [what, token] of w.nonMsp) {
            const res = await call(w.app, route.method, ownPath(route, w.a), { token, body: route.body?.(w) });
            assert.equal(res.status, 403, `${label(route)} as ${what}: ${res.raw}`);
            assert.equal(res.raw, NOT_MSP_BODY, `${label(route)} as ${what}`);
            assertEnvelope(res, `${label(route)} as ${what}`);
            assert.deepEqual(await snapshot(w), before, `${label(route)} as ${what} changed data`);
          }
        });

        if (hasParams(route)) {
          test("another MSP's resource is indistinguishable from one that never existed (A5), and stays untouched", async (t) => {
            const w = await world(t, dialect.name);
            const before = await snapshot(w);
            const probes = route.a5Bodies?.(w) ?? [route.body?.(w)];
            const hijackBodies: Array<{ contact_email?: string; email_domain?: string }> = [];
            for (const body of probes) {
              const what = `${label(route)} with body ${JSON.stringify(body)}`;
              const foreign = await call(w.app, route.method, ownPath(route, w.a), { token: w.b.token, body });
              const never = await call(w.app, route.method, fill(route, (p) => p.neverExisted), { token: w.b.token, body });
              const ownNever = await call(w.app, route.method, fill(route, (p) => p.neverExisted), { token: w.a.token, body });
              assertErrors(never, 404, `${what} on a resource that never existed`);
              assertErrors(foreign, 404, `${what} on another MSP's resource`);
              assert.equal(foreign.raw, never.raw, `${what}: body differs from the never-existed one`);
              assert.deepEqual(comparableHeaders(foreign), comparableHeaders(never), `${what}: headers differ`);
              assert.equal(ownNever.raw, never.raw, `${what}: the 404 depends on who asks`);
              assert.deepEqual(await snapshot(w), before, `${what} changed data`);
              if (body && typeof body === 'object') hijackBodies.push(body);
            }
            // The owner still sees its resource as before, and nothing the refused writes named was claimed.
            const own = await call(w.app, 'GET', `/v2/managed_accounts/${w.a.managedAccounts[0]}`, { token: w.a.token });
            assert.equal(own.status, 200, own.raw);
            for (const body of hijackBodies.filter((b) => b.contact_email && b.email_domain)) {
              const claim = await call(w.app, 'POST', '/v2/managed_accounts', {
                token: w.b.token,
                body: { name: 'Claims the probe values', contact_email: body.contact_email, email_domain: body.email_domain },
              });
              assert.equal(claim.status, 201, `the refused request claimed its email or domain: ${claim.raw}`);
            }
          });
        }
      });
    }

    test('HEAD twins of GET routes are guarded exactly like GET', async (t) => {
      const w = await world(t, dialect.name);
      const head = (url: string, authorization?: string) =>
        w.app.inject({ method: 'HEAD', url, headers: authorization ? { authorization } : {} });
      for (const route of ROUTES.filter((r) => r.method === 'GET')) {
        const url = ownPath(route, w.a);
        const none = await head(url);
        assert.equal(none.statusCode, 401, `HEAD ${url} without a token`);
        assert.equal(none.headers['www-authenticate'], MISSING);
        for (const [what, authorization] of w.badAuthorizations) {
          const bad = await head(url, authorization);
          assert.equal(bad.statusCode, 401, `HEAD ${route.path} with ${what}`);
          assert.equal(bad.headers['www-authenticate'], INVALID);
        }
        const scope = await head(url, `Bearer ${w.a.writeOnly}`);
        assert.equal(scope.statusCode, 403);
        assert.equal(scope.headers['www-authenticate'], insufficient('read'));
        const nonMspStatus = route.openToNonMsp ? (hasParams(route) ? 404 : 200) : 403;
        for (const [what, token] of w.nonMsp) assert.equal((await head(url, `Bearer ${token}`)).statusCode, nonMspStatus, `HEAD ${route.path} as ${what}`);
        assert.equal((await head(url, `Bearer ${w.a.token}`)).statusCode, 200);
        if (hasParams(route)) {
          const foreign = await head(url, `Bearer ${w.b.token}`);
          const never = await head(fill(route, (p) => p.neverExisted), `Bearer ${w.b.token}`);
          assert.equal(foreign.statusCode, 404);
          assert.equal(never.statusCode, 404);
          assert.equal(foreign.headers['content-length'], never.headers['content-length']);
        }
        for (const res of [none, scope]) assert.equal(typeof res.headers['x-request-id'], 'string');
      }
    });

    test("a list shows only the caller's own accounts, and its totals do not count other tenants' (A5)", async (t) => {
      const w = await world(t, dialect.name);
      for (const [mine, theirs] of [[w.a, w.b], [w.b, w.a]] as const) {
        const list = await call(w.app, 'GET', '/v2/managed_accounts?limit=1000', { token: mine.token });
        assert.equal(list.status, 200, list.raw);
        assert.deepEqual(list.body.managed_accounts.map((m: { token: string }) => m.token), mine.managedAccounts);
        for (const account of list.body.managed_accounts) assert.equal(account.parent_account_token, mine.accountToken);
        for (const token of theirs.managedAccounts) assert.ok(!list.raw.includes(token), `${token} leaked into another MSP's list`);
        for (const token of [...theirs.rules, ...theirs.integrations, theirs.accountToken]) assert.ok(!list.raw.includes(token));
      }
      // B owns one account; A owns two. B's paging must not reveal A's count.
      const paged = await call(w.app, 'GET', '/v2/managed_accounts?limit=1', { token: w.b.token });
      assert.equal(paged.status, 200, paged.raw);
      assert.equal(paged.body.links.next, null);
      assert.equal(paged.body.links.last, 'https://steward.test/v2/managed_accounts?limit=1&page=1');
      const page2 = await call(w.app, 'GET', '/v2/managed_accounts?limit=1&page=2', { token: w.b.token });
      assert.equal(page2.status, 200, page2.raw);
      assert.deepEqual(page2.body.managed_accounts, []);
    });

    test("another MSP's billing rules and integrations in token lists get the same 400 as unknown tokens (A5); nothing is written", async (t) => {
      const w = await world(t, dialect.name);
      const before = await snapshot(w);
      const kinds = [
        { field: 'billing_rule_tokens', foreign: w.a.rules[0] as string, unknown: UNKNOWN_RULE, own: w.b.rules[0] as string },
        { field: 'access_credential_tokens', foreign: w.a.integrations[0] as string, unknown: UNKNOWN_INTEGRATION, own: w.b.integrations[0] as string },
      ];
      const bPath = `/v2/managed_accounts/${w.b.managedAccounts[0]}`;
      const normalise = (res: Response, token: string) => res.raw.split(token).join('<token>');
      for (const { field, foreign, unknown, own } of kinds) {
        assert.equal(foreign.length, unknown.length, 'the unknown token must be shaped like a real one');
        const email = uniqueEmail('foreign');
        const domain = uniqueDomain();
        for (const list of [(x: string) => [x], (x: string) => [own, x]]) {
          const requests: Array<[Method, string, (x: string) => unknown]> = [
            ['POST', '/v2/managed_accounts', (x) => ({ name: 'Borrower', contact_email: email, email_domain: domain, [field]: list(x) })],
            ['PUT', bPath, (x) => ({ name: 'Borrower', [field]: list(x) })],
          ];
          for (const [method, url, body] of requests) {
            const what = `${method} ${url} with ${field} ${JSON.stringify(list('<token>'))}`;
            const withForeign = await call(w.app, method, url, { token: w.b.token, body: body(foreign) });
            const withUnknown = await call(w.app, method, url, { token: w.b.token, body: body(unknown) });
            assertErrors(withUnknown, 400, `${what}, unknown token`);
            assertErrors(withForeign, 400, `${what}, another MSP's token`);
            assert.ok(withUnknown.raw.includes(unknown), `${what}: the message names the token (M4): ${withUnknown.raw}`);
            assert.match(withUnknown.raw, new RegExp(field), `${what}: the message names the field`);
            assert.equal(normalise(withForeign, foreign), normalise(withUnknown, unknown), `${what}: a foreign token reads differently from an unknown one`);
            assert.deepEqual(await snapshot(w), before, `${what} changed data`);
          }
        }
      }
    });
  });
}
