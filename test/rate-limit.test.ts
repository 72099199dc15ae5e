import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { describe, test } from 'node:test';
import { buildApp } from '../src/app.ts';
import { call, DIALECTS, seedMsp, testApp, uniqueEmail, type Response } from './helpers/app.ts';

const REDIS_URL = process.env.TEST_REDIS_URL;
if (!REDIS_URL) console.log('# shared Redis rate-limit runs SKIPPED in this file: set TEST_REDIS_URL=redis://… to run them');
const redisSkip = REDIS_URL ? undefined : 'TEST_REDIS_URL is not set, so the shared-limit run is skipped';

/** TEST_REDIS_URL with a key prefix of this run's own (an ioredis URL option), so runs never share counters. */
function redisUrlForThisRun(): string {
  const url = new URL(REDIS_URL as string);
  url.searchParams.set('keyPrefix', `steward-test-${process.pid}-${randomBytes(4).toString('hex')}:`);
  return url.toString();
}

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function assertLimitHeaders(res: Response, limit: number, windowSeconds: number, label: string): number {
  assert.equal(res.headers['x-rate-limit-limit'], String(limit), `${label}: x-rate-limit-limit`);
  const remaining = Number(res.headers['x-rate-limit-remaining']);
  assert.ok(Number.isInteger(remaining) && remaining >= 0 && remaining < limit, `${label}: x-rate-limit-remaining ${remaining}`);
  const reset = Number(res.headers['x-rate-limit-reset']);
  const now = Date.now() / 1000;
  assert.ok(Number.isInteger(reset) && reset >= Math.floor(now) && reset <= Math.ceil(now) + windowSeconds, `${label}: x-rate-limit-reset ${reset}`);
  return remaining;
}

function assertThrottled(res: Response, limit: number, windowSeconds: number, per = 'token'): void {
  assert.equal(res.status, 429, res.raw);
  const retryAfter = res.headers['retry-after'];
  assert.match(String(retryAfter), /^[1-9][0-9]*$/, 'Retry-After is whole seconds ≥ 1');
  assert.ok(Number(retryAfter) <= windowSeconds);
  assert.equal(res.headers['x-rate-limit-remaining'], '0');
  assert.equal(res.headers['x-rate-limit-limit'], String(limit));
  assert.deepEqual(res.body, {
    errors: [`Rate limit exceeded: ${limit} requests per ${windowSeconds} seconds for this ${per}; retry after ${retryAfter} seconds`],
  });
  assert.match(String(res.headers['content-type']), /^application\/json/);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const dialect of DIALECTS) {
  describe(`rate limits [${dialect.name}]`, { skip: dialect.skip }, () => {
    test('every /v2 response carries the headers: 200, 401, unknown /v2 path 404, 400; remaining counts down', async (t) => {
      const ctx = await testApp(t, dialect.name, { rateLimitMax: 50, rateLimitWindowSeconds: 60 });
      const msp = await seedMsp(ctx.db.store);
      const ok = await call(ctx.app, 'GET', '/v2/managed_accounts', { token: msp.token });
      assert.equal(ok.status, 200);
      assert.equal(assertLimitHeaders(ok, 50, 60, '200'), 49);
      const notFound = await call(ctx.app, 'GET', '/v2/no_such_resource', { token: msp.token });
      assert.equal(notFound.status, 404);
      assert.equal(assertLimitHeaders(notFound, 50, 60, '404'), 48);
      const invalid = await call(ctx.app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: '' } });
      assert.equal(invalid.status, 400);
      assert.equal(assertLimitHeaders(invalid, 50, 60, '400'), 47);
      const unknownToken = await call(ctx.app, 'GET', '/v2/managed_accounts', { token: `vntg_tkn_${'0'.repeat(40)}` });
      assert.equal(unknownToken.status, 401);
      assert.equal(assertLimitHeaders(unknownToken, 50, 60, '401 (unknown token)'), 49, 'a bucket of its own');
      const noToken = await call(ctx.app, 'GET', '/v2/managed_accounts');
      assert.equal(noToken.status, 401);
      assert.equal(assertLimitHeaders(noToken, 50, 60, '401 (no token)'), 49, 'keyed by client address');
      const ping = await call(ctx.app, 'GET', '/v2/ping');
      assert.equal(assertLimitHeaders(ping, 50, 60, 'ping'), 48, 'same address bucket');
      // Paths outside /v2 and /oauth are not limited and carry no headers.
      const outside = await call(ctx.app, 'GET', '/not-the-api');
      assert.equal(outside.status, 404);
      assert.equal(outside.headers['x-rate-limit-limit'], undefined);
    });

    test('over the limit: 429 with Retry-After and errors, before auth, and a throttled POST creates nothing', async (t) => {
      const ctx = await testApp(t, dialect.name, { rateLimitMax: 3, rateLimitWindowSeconds: 30 });
      const msp = await seedMsp(ctx.db.store);
      for (let i = 0; i < 3; i++) {
        const res = await call(ctx.app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: `Ok ${i}`, contact_email: uniqueEmail() } });
        assert.equal(res.status, 201);
      }
      const throttled = await call(ctx.app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: 'Too many', contact_email: uniqueEmail() } });
      assertThrottled(throttled, 3, 30);
      // The throttle runs before the body is read: even a body that would be refused gets 429, not 400.
      assertThrottled(await call(ctx.app, 'POST', '/v2/managed_accounts', { token: msp.token, body: '{not json' }), 3, 30);
      const list = await call(ctx.app, 'GET', '/v2/managed_accounts', { token: msp.readOnly });
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.managed_accounts.map((a: { name: string }) => a.name), ['Ok 0', 'Ok 1', 'Ok 2']);
    });

    test('each token has its own bucket, and a window later the token works again', async (t) => {
      const ctx = await testApp(t, dialect.name, { rateLimitMax: 2, rateLimitWindowSeconds: 1 });
      const msp = await seedMsp(ctx.db.store);
      const get = (token: string) => call(ctx.app, 'GET', '/v2/managed_accounts', { token });
      assert.equal((await get(msp.token)).status, 200);
      assert.equal((await get(msp.token)).status, 200);
      const throttled = await get(msp.token);
      assertThrottled(throttled, 2, 1);
      const other = await get(msp.readOnly);
      assert.equal(other.status, 200, 'another token is not throttled');
      assert.equal(other.headers['x-rate-limit-remaining'], '1');
      // Wait until the reset the 429 announced (plus a little), then the first token is served again.
      await sleep(Number(throttled.headers['x-rate-limit-reset']) * 1000 - Date.now() + 50);
      const again = await get(msp.token);
      assert.equal(again.status, 200);
      assert.equal(again.headers['x-rate-limit-remaining'], '1');
    });

    test('a percent-encoded path is the same path: /%762/… and /%6Fauth/… are limited and not cacheable like /v2 and /oauth', async (t) => {
      const ctx = await testApp(t, dialect.name, { rateLimitMax: 2, rateLimitWindowSeconds: 30 });
      const msp = await seedMsp(ctx.db.store);
      const first = await call(ctx.app, 'GET', '/%762/managed_accounts', { token: msp.token });
      assert.equal(first.status, 200, 'the router matches it as /v2/managed_accounts');
      assert.equal(first.headers['x-rate-limit-remaining'], '1');
      assert.equal(first.headers['cache-control'], 'no-store');
      assert.equal((await call(ctx.app, 'GET', '/v%32/managed_accounts', { token: msp.token })).status, 200);
      assertThrottled(await call(ctx.app, 'GET', '/v2/managed_accounts', { token: msp.token }), 2, 30);
      // A request target refused as malformed counts too.
      assertThrottled(await call(ctx.app, 'GET', '/v2/managed_accounts/%00', { token: msp.token }), 2, 30);
      assertThrottled(await call(ctx.app, 'POST', '/%762/billing_rules', { token: msp.token, body: { type: 'adjustment', title: 'T', percentage: 5 } }), 2, 30);
      for (let i = 0; i < 2; i++) await call(ctx.app, 'POST', '/%6Fauth/token', { body: 'grant_type=client_credentials', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      const oauth = await call(ctx.app, 'POST', '/%6Fauth/token', { body: 'grant_type=client_credentials', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      assert.equal(oauth.status, 429, oauth.raw);
    });

    test('made-up tokens each get a bucket, so refused credentials are also counted per address: after max, 429', async (t) => {
      const ctx = await testApp(t, dialect.name, { rateLimitMax: 3, rateLimitWindowSeconds: 30 });
      const msp = await seedMsp(ctx.db.store);
      const fake = () => `vntg_tkn_${randomBytes(20).toString('hex')}`;
      for (let i = 0; i < 3; i++) assert.equal((await call(ctx.app, 'GET', '/v2/managed_accounts', { token: fake() })).status, 401);
      const refused = await call(ctx.app, 'GET', '/v2/managed_accounts', { token: fake() });
      assert.equal(refused.status, 429, refused.raw);
      assert.match(refused.body.errors[0], /^Too many refused credentials: 3 in 30 seconds from this client address; retry after \d+ seconds$/);
      assert.ok(Number(refused.headers['retry-after']) >= 1);
      // The address is blocked, whatever it sends, until the window ends (a guesser cannot tell good from bad).
      assert.equal((await call(ctx.app, 'GET', '/v2/managed_accounts', { token: msp.token })).status, 429);
      const oauth = await call(ctx.app, 'POST', '/oauth/token', { body: 'grant_type=client_credentials', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      assert.equal(oauth.status, 429);
      assert.equal(oauth.body.error, 'invalid_request');
    });

    test('refused OAuth client credentials count too: secret guessing from one address stops after max', async (t) => {
      const ctx = await testApp(t, dialect.name, { rateLimitMax: 3, rateLimitWindowSeconds: 30 });
      const guess = (n: number) =>
        call(ctx.app, 'POST', '/oauth/introspect', {
          body: `token=x&client_id=stw_client_${String(n).padStart(16, '0')}&client_secret=guess`,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        });
      for (let n = 0; n < 3; n++) assert.equal((await guess(n)).status, 401);
      const blocked = await guess(3);
      assert.equal(blocked.status, 429, blocked.raw);
      assert.match(blocked.body.errors[0], /^Too many refused credentials: 3 in 30 seconds from this client address/);
    });

    test('/oauth/* is limited per client address, whatever credentials are sent; other paths are not limited', async (t) => {
      const ctx = await testApp(t, dialect.name, { rateLimitMax: 2, rateLimitWindowSeconds: 30 });
      const guess = (n: number) =>
        ctx.app.inject({
          method: 'POST',
          url: '/oauth/token',
          headers: { authorization: `Basic ${Buffer.from(`client_${n}:secret_${n}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
          payload: 'grant_type=client_credentials',
        });
      // Two requests that are not refused credentials (a wrong method) use up the address's bucket …
      for (let i = 0; i < 2; i++) assert.equal((await ctx.app.inject({ method: 'GET', url: '/oauth/token' })).statusCode, 405);
      const third = await guess(3);
      assert.equal(third.statusCode, 429, third.body);
      assert.match(String(third.headers['retry-after']), /^[1-9][0-9]*$/);
      assert.match(third.json().errors[0], /^Rate limit exceeded: 2 requests per 30 seconds for this client address; retry after \d+ seconds$/);
      for (let i = 0; i < 5; i++) {
        const res = await call(ctx.app, 'GET', '/.well-known/oauth-authorization-server');
        assert.notEqual(res.status, 429);
        assert.equal(res.headers['x-rate-limit-limit'], undefined);
      }
    });

    test('rateLimitMax 0 turns limiting off: no headers, never 429', async (t) => {
      const ctx = await testApp(t, dialect.name, { rateLimitMax: 0, rateLimitWindowSeconds: 1 });
      const msp = await seedMsp(ctx.db.store);
      for (let i = 0; i < 30; i++) {
        const res = await call(ctx.app, 'GET', '/v2/managed_accounts', { token: msp.token });
        assert.equal(res.status, 200);
        assert.equal(res.headers['x-rate-limit-limit'], undefined);
        assert.equal(res.headers['x-rate-limit-remaining'], undefined);
      }
    });

    test('Redis unreachable: requests are still served and limited in memory, never a 500', async (t) => {
      const ctx = await testApp(t, dialect.name, { rateLimitMax: 3, rateLimitWindowSeconds: 30, redisUrl: `redis://127.0.0.1:${await closedPort()}` });
      const msp = await seedMsp(ctx.db.store);
      const statuses = [];
      for (let i = 0; i < 5; i++) {
        const res = await call(ctx.app, 'GET', '/v2/managed_accounts', { token: msp.token });
        statuses.push(res.status);
        if (res.status === 200) assertLimitHeaders(res, 3, 30, `request ${i + 1}`);
      }
      assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    });

    test('two Steward processes sharing Redis share one limit per token', { skip: redisSkip }, async (t) => {
      const overrides = { rateLimitMax: 5, rateLimitWindowSeconds: 30, redisUrl: redisUrlForThisRun() };
      const first = await testApp(t, dialect.name, overrides);
      const second = await buildApp({ config: first.config, store: first.db.store });
      t.after(() => second.close());
      const msp = await seedMsp(first.db.store);
      const get = (app: typeof second) => call(app, 'GET', '/v2/managed_accounts', { token: msp.token });
      const remaining = [];
      for (const app of [first.app, second, first.app, second, first.app]) {
        const res = await get(app);
        assert.equal(res.status, 200);
        remaining.push(res.headers['x-rate-limit-remaining']);
      }
      assert.deepEqual(remaining, ['4', '3', '2', '1', '0'], 'one counter across both apps');
      assertThrottled(await get(second), 5, 30);
      assertThrottled(await get(first.app), 5, 30);
      assert.equal((await get(second)).headers['x-rate-limit-limit'], '5');
      assert.equal((await call(second, 'GET', '/v2/managed_accounts', { token: msp.readOnly })).status, 200, 'other tokens unaffected');
    });
  });
}
