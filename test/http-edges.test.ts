import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { call, seedMsp, testApp, uniqueEmail } from './helpers/app.ts';

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
