import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import type { InjectOptions } from 'fastify';
import { EARLY_RESPONSE_HEADERS } from '../src/http/hardening.ts';
import { call, DIALECTS, seedMsp, testApp, uniqueEmail, type MspFixture } from './helpers/app.ts';

/** Sends raw bytes to a listening app and returns what came back. HTTP-level, so one dialect is enough. */
function raw(port: number, request: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => (data += chunk));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer; got ${data}`)));
    socket.write(request);
  });
}

async function listening(t: TestContext) {
  const ctx = await testApp(t, 'sqlite');
  const msp = await seedMsp(ctx.db.store);
  await ctx.app.listen({ port: 0, host: '127.0.0.1' });
  const port = (ctx.app.server.address() as { port: number }).port;
  return { ...ctx, msp, port };
}

describe('HTTP edges', () => {
  test('requests the HTTP parser rejects still get JSON errors and a request id', async (t) => {
    const { port } = await listening(t);
    const cases: Array<[string, number]> = [
      [`GET /v2/ping HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
      ['FOO /v2/ping HTTP/1.1\r\nHost: x\r\n\r\n', 400],
      ['GET /v2/ping HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
      ['GET /v2/ping HTTP/1.1\r\nBroken header line\r\n\r\n', 400],
      // A bare CR inside a header value (header injection): refused by Node's parser, never seen by a route.
      ['GET /v2/ping HTTP/1.1\r\nHost: x\r\nIdempotency-Key: a\rSet-Cookie: b=c\r\n\r\n', 400],
    ];
    for (const [request, status] of cases) {
      const answer = await raw(port, request);
      assert.match(answer, new RegExp(`^HTTP/1.1 ${status} `), answer.slice(0, 200));
      assert.match(answer, /\r\ncontent-type: application\/json/i);
      assert.match(answer, /\r\nx-request-id: [0-9a-f-]{36}\r\n/i);
      assert.match(answer, /\r\n\r\n\{"errors":\["[^"]+"\]\}$/);
    }
  });

  test('pagination links come from the public URL, not from an absolute-form request target', async (t) => {
    const { port, msp } = await listening(t);
    const answer = await raw(port, `GET http://evil.example/v2/managed_accounts?limit=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${msp.token}\r\nConnection: close\r\n\r\n`);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
    assert.equal(body.links.self, 'https://steward.test/v2/managed_accounts?limit=1');
    assert.equal(body.links.first, 'https://steward.test/v2/managed_accounts?limit=1&page=1');
    assert.doesNotMatch(answer, /evil/);
    assert.match(answer, /\r\ncache-control: no-store\r\n/i, 'an absolute-form target is still an API answer');
    const fragment = await raw(port, `GET /v2/managed_accounts?limit=1#frag HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${msp.token}\r\nConnection: close\r\n\r\n`);
    assert.doesNotMatch(fragment.slice(fragment.indexOf('\r\n\r\n')), /frag/, 'a fragment is never echoed into links');
  });

  test('a body that is not UTF-8 is refused, not stored garbled', async (t) => {
    const { app, msp } = await listening(t);
    const latin1 = Buffer.concat([Buffer.from('{"name":"Soci'), Buffer.from([0xe9]), Buffer.from(`t\u00e9","contact_email":"${uniqueEmail()}"}`, 'utf8')]);
    for (const contentType of ['application/json', 'application/json; charset=iso-8859-1']) {
      const res = await app.inject({ method: 'POST', url: '/v2/managed_accounts', headers: { authorization: `Bearer ${msp.token}`, 'content-type': contentType }, payload: latin1 });
      assert.equal(res.statusCode, 400);
      assert.deepEqual(res.json(), { errors: ['request body is not valid UTF-8 (JSON must be sent as UTF-8)'] });
    }
    const bom = await app.inject({
      method: 'POST',
      url: '/v2/managed_accounts',
      headers: { authorization: `Bearer ${msp.token}`, 'content-type': 'application/json' },
      payload: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify({ name: 'Société', contact_email: uniqueEmail() }))]),
    });
    assert.equal(bom.statusCode, 201, bom.body);
    assert.equal(bom.json().name, 'Société');
    assert.equal((await call(app, 'GET', '/v2/managed_accounts', { token: msp.token })).body.managed_accounts.length, 1);
  });

  test('two Authorization headers are refused, whichever comes first', async (t) => {
    const { port, msp } = await listening(t);
    for (const pair of [[msp.token, `vntg_tkn_${'0'.repeat(40)}`], [msp.readOnly, msp.token]]) {
      const answer = await raw(port, `GET /v2/managed_accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${pair[0]}\r\nAuthorization: Bearer ${pair[1]}\r\nConnection: close\r\n\r\n`);
      assert.match(answer, /^HTTP\/1.1 401 /);
      assert.match(answer, /www-authenticate: Bearer realm="steward", error="invalid_token"/i);
      assert.match(answer, /send exactly one Authorization header/);
    }
  });
});

/** What every answer carries: the helmet headers (and no-store under /v2 and /oauth). */
function assertSecurityHeaders(headers: Record<string, unknown>, what: string): void {
  for (const [name, value] of Object.entries(EARLY_RESPONSE_HEADERS)) {
    if (name !== 'cache-control') assert.equal(headers[name], value, `${what}: ${name}`);
  }
}

/** Rows of every table the API writes, to show a refused request changed nothing. */
async function dataRows(ctx: Awaited<ReturnType<typeof testApp>>): Promise<string[]> {
  const tables = ['accounts', 'claimed_domains', 'integrations', 'billing_rules', 'managed_account_billing_rules', 'managed_account_integrations', 'audit_logs', 'idempotency_keys'] as const;
  const rows: string[] = [];
  for (const table of tables) rows.push(...(await ctx.db.store.db.selectFrom(table).selectAll().execute()).map((r) => `${table} ${JSON.stringify(r)}`));
  return rows.sort();
}

describe('security headers', () => {
  test('every answer carries them, the early ones included, and API answers are not cached', async (t) => {
    const { app, port, msp } = await listening(t);
    const ok = await call(app, 'GET', '/v2/managed_accounts', { token: msp.token });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['content-security-policy'], "default-src 'none';frame-ancestors 'none'");
    assert.equal(ok.headers['x-frame-options'], 'DENY');
    assert.equal(ok.headers['referrer-policy'], 'no-referrer');
    assert.equal(ok.headers['x-content-type-options'], 'nosniff');
    assert.equal(ok.headers['cache-control'], 'no-store');
    assert.equal(ok.headers['cross-origin-embedder-policy'], undefined, 'no COEP: it only gets in the way of API clients');
    // The headers written out for the early answers are exactly helmet's.
    const helmetHeaders = Object.fromEntries(Object.keys(EARLY_RESPONSE_HEADERS).map((name) => [name, ok.headers[name]]));
    assert.deepEqual(helmetHeaders, EARLY_RESPONSE_HEADERS);

    const big = JSON.stringify({ name: 'x'.repeat(1024 * 1024), contact_email: uniqueEmail() });
    const answers: Array<[string, { status: number; headers: Record<string, unknown> }]> = [
      ['401', await call(app, 'GET', '/v2/managed_accounts')],
      ['404', await call(app, 'GET', '/v2/nothing_here', { token: msp.token })],
      ['405', await call(app, 'DELETE', '/v2/managed_accounts', { token: msp.token })],
      ['413', await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: big })],
      ['415', await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: 'x', headers: { 'content-type': 'text/plain' } })],
      ['400 from the router', await call(app, 'GET', '/v2/managed_accounts/%FF', { token: msp.token })],
    ];
    for (const [what, res] of answers) {
      assertSecurityHeaders(res.headers, what);
      assert.equal(res.headers['cache-control'], 'no-store', `${what}: cache-control`);
    }
    const parserError = await raw(port, 'GET /v2/ping HTTP/1.1\r\nBroken header line\r\n\r\n');
    for (const [name, value] of Object.entries(EARLY_RESPONSE_HEADERS)) assert.ok(parserError.toLowerCase().includes(`\r\n${name}: ${value.toLowerCase()}\r\n`), `raw 400: ${name}`);
  });
});

for (const dialect of DIALECTS) {
  describe(`hostile input, one class at a time [${dialect.name}]`, { skip: dialect.skip }, () => {
    let ctx: Awaited<ReturnType<typeof testApp>>;
    let msp: MspFixture;
    const send = (options: InjectOptions) => ctx.app.inject({ ...options, headers: { authorization: `Bearer ${msp.token}`, ...options.headers } });
    const json = (url: string, payload: string | Buffer, method: 'POST' | 'PUT' = 'POST') =>
      send({ method, url, payload, headers: { 'content-type': 'application/json' } });

    /** Each case: the request, the exact status, the message that names the problem; and nothing is stored. */
    const cases: Array<[string, () => ReturnType<typeof send>, number, RegExp]> = [
      ['malformed JSON', () => json('/v2/managed_accounts', '{"name": "X",'), 400, /^request body is not valid JSON: /],
      ['no content type on a body', () => send({ method: 'POST', url: '/v2/managed_accounts', payload: '{"name":"X"}' }), 415, /^Content-Type \(none\) is not supported; send application\/json$/],
      ['a form body', () => send({ method: 'POST', url: '/v2/billing_rules', payload: 'title=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, /Content-Type "application\/x-www-form-urlencoded" is not supported/],
      ['__proto__ at depth', () => json('/v2/managed_accounts', '{"name":"X","x":{"y":[{"__proto__":{"admin":true}}]}}'), 400, /^request body must not contain the key __proto__ \(found at x\.y\[0\]\.__proto__\)$/],
      ['constructor', () => json('/v2/managed_accounts', '{"constructor":{"prototype":{"admin":true}}}'), 400, /must not contain the key constructor/],
      ['prototype', () => json('/v2/billing_rules', '{"type":"exclusion","title":"T","charge_type":"Tax","prototype":1}'), 400, /must not contain the key prototype/],
      ['10,000 levels of nesting', () => json('/v2/managed_accounts', `{"name":${'['.repeat(10_000)}${']'.repeat(10_000)}}`), 400, /^request body is nested too deeply \(maximum is 32 levels/],
      ['100,000 levels of nesting', () => json('/v2/managed_accounts', `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`), 400, /^request body is nested too deeply/],
      ['a body over 1 MiB', () => json('/v2/managed_accounts', JSON.stringify({ name: 'x'.repeat(1_100_000) })), 413, /^request body is too large \(maximum is 1048576 bytes\)$/],
      ['a 900,000-character name', () => json('/v2/managed_accounts', JSON.stringify({ name: 'x'.repeat(900_000), contact_email: uniqueEmail() })), 400, /^name is too long \(maximum is 255 characters\)$/],
      ['a 30,000-character sql_query', () => json('/v2/billing_rules', JSON.stringify({ type: 'custom', title: 'T', sql_query: `UPDATE costs SET amount = 1 -- ${'x'.repeat(30_000)}` })), 400, /^sql_query is too long \(maximum is 20000 characters\)$/],
      ['invalid UTF-8 in the body', () => json('/v2/managed_accounts', Buffer.from([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xc0, 0xaf, 0x22, 0x7d])), 400, /^request body is not valid UTF-8/],
      ['%FF in the path', () => send({ method: 'GET', url: '/v2/managed_accounts/%FF' }), 400, /^the request URL is malformed/],
      ['overlong %C0%AF in the path', () => send({ method: 'GET', url: '/v2/billing_rules/%C0%AF' }), 400, /^the request URL is malformed/],
      ['invalid UTF-8 in the query', () => send({ method: 'GET', url: '/v2/integrations?account_identifier=%E0%80%80' }), 400, /^the query string is malformed: it must be percent-encoded UTF-8/],
      ['invalid UTF-8 in a header value', () => send({ method: 'GET', url: '/v2/managed_accounts', headers: { authorization: 'Bearer vntg_tkn_\u00c3\u00a9' } }), 401, /The bearer token is invalid/],
      ['non-ASCII Idempotency-Key', () => send({ method: 'POST', url: '/v2/billing_rules', payload: '{"type":"exclusion","title":"T","charge_type":"Tax"}', headers: { 'content-type': 'application/json', 'idempotency-key': 'caf\u00e9' } }), 400, /^Idempotency-Key must be 1 to 255 visible ASCII characters/],
      ['NUL in a string field', () => json('/v2/managed_accounts', `{"name":"a\\u0000b","contact_email":"${uniqueEmail()}"}`), 400, /^name must not contain the NUL character/],
      ['NUL in a nested field', () => json('/v2/integrations/gcp', '{"billing_account_id":"x","project_id":"p","dataset_name":"d","x":{"note":"\\u0000"}}'), 400, /^x\.note must not contain the NUL character/],
      ['a lone surrogate', () => json('/v2/billing_rules', '{"type":"exclusion","title":"T\\ud800","charge_type":"Tax"}'), 400, /^title must be valid Unicode text \(it contains an unpaired surrogate/],
      ['NUL in the query', () => send({ method: 'GET', url: '/v2/integrations?provider=aws&account_identifier=%00' }), 400, /^query parameter "account_identifier" must not contain control characters$/],
      ['NUL in a path parameter', () => send({ method: 'DELETE', url: '/v2/managed_accounts/acct_%00' }), 400, /^path parameter managed_account_token must not contain control characters$/],
      ['SQL injection in a body field', () => json('/v2/managed_accounts', JSON.stringify({ name: 'X', contact_email: "x' OR '1'='1" })), 400, /^contact_email is not a valid email address/],
      ['SQL injection in a token list', () => json('/v2/managed_accounts', JSON.stringify({ name: 'X', contact_email: uniqueEmail(), billing_rule_tokens: ["'; DROP TABLE billing_rules; --"] })), 400, /billing_rule_tokens/],
      ['SQL injection in page', () => send({ method: 'GET', url: `/v2/managed_accounts?page=${encodeURIComponent("1' OR 1=1 --")}` }), 400, /^page must be a whole number written in digits/],
      ['SQL injection in a path parameter', () => send({ method: 'PUT', url: `/v2/billing_rules/${encodeURIComponent("bllng_rule_x' OR '1'='1")}`, payload: '{"title":"T"}', headers: { 'content-type': 'application/json' } }), 404, /^Billing rule not found$/],
      ['CR/LF in a path parameter', () => send({ method: 'GET', url: '/v2/integrations/x%0D%0ASet-Cookie:%20a=b' }), 400, /must not contain control characters/],
      ['a method no route has', () => send({ method: 'PATCH', url: '/v2/billing_rules' }), 405, /^PATCH is not allowed on \/v2\/billing_rules \(allowed: GET, HEAD, POST\)$/],
      ['page 0', () => send({ method: 'GET', url: '/v2/billing_rules?page=0' }), 400, /^page must be greater than or equal to 1$/],
      ['a page beyond int32', () => send({ method: 'GET', url: '/v2/billing_rules?page=2147483648' }), 400, /^page must be less than or equal to 2147483647$/],
      ['limit in exponent form', () => send({ method: 'GET', url: '/v2/managed_accounts?limit=1e3' }), 400, /^limit must be a whole number written in digits/],
      ['a repeated query parameter', () => send({ method: 'GET', url: '/v2/managed_accounts?page=1&page=2' }), 400, /^query parameter "page" is given more than once/],
      ['too many query parameters', () => send({ method: 'GET', url: `/v2/managed_accounts?${Array.from({ length: 60 }, (_, i) => `p${i}=1`).join('&')}` }), 400, /^too many query parameters \(maximum is 50\)$/],
      ['a very long query string', () => send({ method: 'GET', url: `/v2/managed_accounts?q=${'a'.repeat(9000)}` }), 414, /^the request URL is too long \(maximum is 8192 characters\)$/],
      ['an unknown OAuth path', () => send({ method: 'GET', url: '/oauth/authorize' }), 404, /^No route matches GET \/oauth\/authorize$/],
    ];

    test('each hostile class gets its exact 4xx, with a message that names the problem, and changes nothing', async (t) => {
      ctx = await testApp(t, dialect.name, { rateLimitMax: 0 });
      msp = await seedMsp(ctx.db.store);
      const before = await dataRows(ctx);
      for (const [what, request, status, message] of cases) {
        const res = await request();
        assert.equal(res.statusCode, status, `${what}: ${res.body.slice(0, 300)}`);
        const body = res.json() as { errors: string[]; error?: string; error_description?: string };
        assert.equal(body.errors.length, 1, `${what}: ${res.body.slice(0, 300)}`);
        assert.match(body.errors[0] as string, message, what);
        assert.equal(typeof res.headers['x-request-id'], 'string', what);
        if (what.includes('OAuth')) {
          assert.equal(body.error, 'invalid_request', what);
          assert.equal(body.error_description, body.errors[0], what);
        }
      }
      assert.deepEqual(await dataRows(ctx), before, 'a refused request changed stored data');
    });

    test('injection strings are data: stored and echoed exactly where a field takes free text, matched literally in filters', async (t) => {
      ctx = await testApp(t, dialect.name, { rateLimitMax: 0 });
      msp = await seedMsp(ctx.db.store);
      const name = "Robert'); DROP TABLE accounts; --";
      const created = await json('/v2/managed_accounts', JSON.stringify({ name, contact_email: uniqueEmail() }));
      assert.equal(created.statusCode, 201, created.body);
      assert.equal(created.json().name, name);
      const filtered = await send({ method: 'GET', url: `/v2/integrations?provider=aws&account_identifier=${encodeURIComponent("1' OR '1'='1")}` });
      assert.equal(filtered.statusCode, 200, filtered.body);
      assert.deepEqual(filtered.json().integrations, []);
      const farPage = await send({ method: 'GET', url: '/v2/managed_accounts?page=2147483647&limit=99999999' });
      assert.equal(farPage.statusCode, 200, farPage.body);
      assert.deepEqual(farPage.json().managed_accounts, [], 'the furthest page is empty, not a database error');
    });

    test('a client x-request-id is never honoured or echoed, and nothing a client sends becomes a response header', async (t) => {
      ctx = await testApp(t, dialect.name, { rateLimitMax: 0 });
      msp = await seedMsp(ctx.db.store);
      const res = await send({ method: 'GET', url: '/v2/managed_accounts/acct_0000000000000000?x=%0D%0ALocation:%20evil', headers: { 'x-request-id': 'client-chosen' } });
      assert.equal(res.statusCode, 400);
      assert.deepEqual(res.json(), { errors: ['query parameter "x" must not contain control characters'] });
      assert.match(String(res.headers['x-request-id']), /^[0-9a-f-]{36}$/);
      assert.equal(res.headers.location, undefined);
    });
  });
}
