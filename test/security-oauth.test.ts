import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createOauthClient, revokeOauthClient, type CreatedOauthClient } from '../src/domain/oauth.ts';
import type { Store } from '../src/store/database.ts';
import { call, DIALECTS, seedMsp, testApp, type Response } from './helpers/app.ts';

/**
 * Security matrix for the OAuth endpoints (A6, RFC 6749 §2.3 and §5.2): every way of calling /oauth/token,
 * /oauth/revoke and /oauth/introspect without valid client credentials is refused with the RFC error, and
 * nothing changes in api_tokens or oauth_clients.
 */

const FORM = 'application/x-www-form-urlencoded';
const b64 = (text: string) => Buffer.from(text).toString('base64');
const basic = (id: string, secret: string) => `Basic ${b64(`${id}:${secret}`)}`;

interface Attempt {
  name: string;
  /** The Authorization header, if any. */
  authorization?: string;
  /** Client parameters in the body, if any. */
  body?: Record<string, string>;
  /** Sent as JSON instead of a form. */
  json?: boolean;
  status: 401 | 400;
  error: 'invalid_client' | 'invalid_request';
}

interface World {
  app: FastifyInstance;
  store: Store;
  clientA: CreatedOauthClient;
  clientB: CreatedOauthClient;
  revoked: CreatedOauthClient;
  /** A live access token issued to clientA, the target of revoke and introspect. */
  tokenA: string;
}

function attempts(w: World): Attempt[] {
  const a = w.clientA;
  return [
    { name: 'no credentials', status: 401, error: 'invalid_client' },
    { name: 'no credentials (JSON)', json: true, status: 401, error: 'invalid_client' },
    { name: 'client_id without a secret', body: { client_id: a.client_id }, status: 401, error: 'invalid_client' },
    { name: 'client_secret without an id', body: { client_secret: a.client_secret }, status: 401, error: 'invalid_client' },
    { name: 'malformed Basic (not base64)', authorization: 'Basic !!!not-base64!!!', status: 401, error: 'invalid_client' },
    { name: 'malformed Basic (no colon)', authorization: `Basic ${b64(a.client_id)}`, status: 401, error: 'invalid_client' },
    { name: 'malformed Basic (empty secret)', authorization: basic(a.client_id, ''), status: 401, error: 'invalid_client' },
    { name: 'Basic with no value', authorization: 'Basic', status: 401, error: 'invalid_client' },
    { name: 'a Bearer access token instead of client credentials', authorization: `Bearer ${w.tokenA}`, status: 401, error: 'invalid_client' },
    { name: 'wrong secret (Basic)', authorization: basic(a.client_id, `${a.client_secret}0`), status: 401, error: 'invalid_client' },
    { name: 'wrong secret (body)', body: { client_id: a.client_id, client_secret: 'stw_secret_0' }, status: 401, error: 'invalid_client' },
    { name: 'wrong secret (JSON body)', body: { client_id: a.client_id, client_secret: 'x' }, json: true, status: 401, error: 'invalid_client' },
    { name: 'unknown client', authorization: basic('stw_client_0123456789abcdef', a.client_secret), status: 401, error: 'invalid_client' },
    { name: 'ill-formed client_id', body: { client_id: "' OR 1=1 --", client_secret: a.client_secret }, status: 401, error: 'invalid_client' },
    { name: 'revoked client', authorization: basic(w.revoked.client_id, w.revoked.client_secret), status: 401, error: 'invalid_client' },
    { name: "other account's client id with this secret", authorization: basic(w.clientB.client_id, a.client_secret), status: 401, error: 'invalid_client' },
    { name: "this client id with the other account's secret", body: { client_id: a.client_id, client_secret: w.clientB.client_secret }, status: 401, error: 'invalid_client' },
    {
      name: 'both Basic and body credentials',
      authorization: basic(a.client_id, a.client_secret),
      body: { client_id: a.client_id, client_secret: a.client_secret },
      status: 400,
      error: 'invalid_request',
    },
    {
      name: 'both Basic and body credentials (JSON)',
      authorization: basic(a.client_id, a.client_secret),
      body: { client_id: a.client_id },
      json: true,
      status: 400,
      error: 'invalid_request',
    },
  ];
}

const ENDPOINTS = [
  { path: '/oauth/token', params: (_w: World) => ({ grant_type: 'client_credentials' }) },
  { path: '/oauth/revoke', params: (w: World) => ({ token: w.tokenA }) },
  { path: '/oauth/introspect', params: (w: World) => ({ token: w.tokenA }) },
] as const;

async function snapshot(store: Store) {
  return {
    api_tokens: await store.db.selectFrom('api_tokens').selectAll().orderBy('id').execute(),
    oauth_clients: await store.db.selectFrom('oauth_clients').selectAll().orderBy('id').execute(),
  };
}

function send(app: FastifyInstance, path: string, attempt: Attempt, params: Record<string, string>): Promise<Response> {
  const fields = { ...params, ...(attempt.body ?? {}) };
  const headers: Record<string, string> = { 'content-type': attempt.json ? 'application/json' : FORM };
  if (attempt.authorization !== undefined) headers.authorization = attempt.authorization;
  return call(app, 'POST', path, { body: attempt.json ? JSON.stringify(fields) : new URLSearchParams(fields).toString(), headers });
}

for (const dialect of DIALECTS) {
  describe(`OAuth endpoints security matrix [${dialect.name}]`, { skip: dialect.skip }, () => {
    test('every endpoint × every bad credential: the RFC error, `errors`, no-store, and no change to tokens or clients', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const a = await seedMsp(db.store, 'MSP A');
      const b = await seedMsp(db.store, 'MSP B');
      const clientA = await createOauthClient(db.store.db, { accountToken: a.accountToken, scopes: 'read,write' });
      const clientB = await createOauthClient(db.store.db, { accountToken: b.accountToken, scopes: 'read,write' });
      const revoked = await createOauthClient(db.store.db, { accountToken: a.accountToken, scopes: 'read,write' });
      const issued = await call(app, 'POST', '/oauth/token', {
        body: 'grant_type=client_credentials',
        headers: { 'content-type': FORM, authorization: basic(clientA.client_id, clientA.client_secret) },
      });
      assert.equal(issued.status, 200, issued.raw);
      const w: World = { app, store: db.store, clientA, clientB, revoked, tokenA: issued.body.access_token };
      await revokeOauthClient(db.store.db, revoked.client_id);
      // A first use records last_used_at, so the snapshot is not disturbed by the checks at the end.
      assert.equal((await call(app, 'GET', '/v2/me', { token: w.tokenA })).status, 200);
      const before = await snapshot(db.store);

      let checked = 0;
      for (const endpoint of ENDPOINTS) {
        for (const attempt of attempts(w)) {
          const what = `${endpoint.path} with ${attempt.name}`;
          const res = await send(app, endpoint.path, attempt, endpoint.params(w));
          assert.equal(res.status, attempt.status, `${what}: ${res.raw}`);
          assert.equal(res.body.error, attempt.error, `${what}: ${res.raw}`);
          assert.deepEqual(res.body.errors, [res.body.error_description], what);
          assert.equal(typeof res.body.error_description, 'string', what);
          assert.equal(res.headers['cache-control'], 'no-store', what);
          if (attempt.status === 401) assert.equal(res.headers['www-authenticate'], 'Basic realm="steward"', what);
          assert.ok(!res.raw.includes(clientA.client_secret) && !res.raw.includes(w.tokenA), `${what}: no secret echoed`);
          checked += 1;
        }
      }
      assert.equal(checked, ENDPOINTS.length * attempts(w).length);
      assert.deepEqual(await snapshot(db.store), before, 'refused requests changed nothing');

      // A valid client of another account is authenticated, but A's token is not its own: 200 and nothing happens.
      const asB = { ...attempts(w)[0]!, authorization: basic(clientB.client_id, clientB.client_secret) };
      assert.deepEqual((await send(app, '/oauth/introspect', asB, { token: w.tokenA })).body, { active: false });
      assert.equal((await send(app, '/oauth/revoke', asB, { token: w.tokenA })).status, 200);
      assert.deepEqual(await snapshot(db.store), before, "B's client changed nothing of A's");

      // The token the attempts aimed at still works, and A's client still introspects it.
      assert.equal((await call(app, 'GET', '/v2/managed_accounts', { token: w.tokenA })).status, 200);
      const asA = { ...attempts(w)[0]!, authorization: basic(clientA.client_id, clientA.client_secret) };
      assert.equal((await send(app, '/oauth/introspect', asA, { token: w.tokenA })).body.active, true);
    });

    test('two Authorization headers are refused as invalid_request', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const a = await seedMsp(db.store);
      const c = await createOauthClient(db.store.db, { accountToken: a.accountToken, scopes: 'read' });
      const before = await snapshot(db.store);
      for (const path of ENDPOINTS.map((e) => e.path)) {
        const credentials = basic(c.client_id, c.client_secret);
        // light-my-request sends an array value as repeated header lines.
        const headers = { 'content-type': FORM, authorization: [credentials, credentials] as unknown as string };
        const res = await app.inject({ method: 'POST', url: path, headers, payload: 'grant_type=client_credentials&token=x' });
        assert.equal(res.statusCode, 400, `${path}: ${res.body}`);
        assert.equal(JSON.parse(res.body).error, 'invalid_request');
      }
      assert.deepEqual(await snapshot(db.store), before);
    });
  });
}
