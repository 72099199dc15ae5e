import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createAccount, createApiToken } from '../src/domain/accounts.ts';
import { createOauthClient, revokeOauthClient, type CreatedOauthClient } from '../src/domain/oauth.ts';
import { hashApiToken } from '../src/domain/tokens.ts';
import type { Store } from '../src/store/database.ts';
import { call, DIALECTS, freshDatabase, seedMsp, testApp, uniqueEmail, type Response } from './helpers/app.ts';
import { childEnv, ROOT } from './helpers/cli.ts';

/** A6: the OAuth 2.0 authorization server (RFC 6749 §4.4 client credentials, RFC 7009, RFC 7662, RFC 8414). */

const ACCESS_TOKEN = /^vntg_tkn_[0-9a-f]{40}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

/** A form-encoded POST, as `curl -u id:secret -d k=v` sends it. */
function post(app: FastifyInstance, path: string, fields: Record<string, string>, auth?: { id: string; secret: string }): Promise<Response> {
  return call(app, 'POST', path, { body: form(fields), headers: { ...FORM, ...(auth ? { authorization: basic(auth.id, auth.secret) } : {}) } });
}

const creds = (client: CreatedOauthClient) => ({ id: client.client_id, secret: client.client_secret });

async function client(store: Store, accountToken: string, scopes = 'read,write', description: string | null = 'terraform CI'): Promise<CreatedOauthClient> {
  return createOauthClient(store.db, { accountToken, scopes, description });
}

async function issue(app: FastifyInstance, c: CreatedOauthClient, extra: Record<string, string> = {}): Promise<string> {
  const res = await post(app, '/oauth/token', { grant_type: 'client_credentials', ...extra }, creds(c));
  assert.equal(res.status, 200, res.raw);
  return res.body.access_token;
}

/** Asserts an RFC 6749 §5.2 error that also carries Steward's `errors` list. */
function assertOAuthError(res: Response, status: number, error: string, description?: RegExp): void {
  assert.equal(res.status, status, res.raw);
  assert.equal(res.body.error, error, res.raw);
  assert.equal(typeof res.body.error_description, 'string');
  assert.deepEqual(res.body.errors, [res.body.error_description]);
  if (description) assert.match(res.body.error_description, description);
  assert.equal(res.headers['cache-control'], 'no-store');
  if (status === 401) assert.equal(res.headers['www-authenticate'], 'Basic realm="steward"');
}

async function tokenRows(store: Store) {
  return store.db.selectFrom('api_tokens').selectAll().orderBy('id').execute();
}

for (const dialect of DIALECTS) {
  describe(`OAuth 2.0 authorization server [${dialect.name}]`, { skip: dialect.skip }, () => {
    test('curl-style flow: Basic + form → token, /v2 works, introspection active; revoke → 401 on the very next call, inactive', async (t) => {
      const { app, db, config } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const c = await client(db.store, msp.accountToken);
      const before = (await tokenRows(db.store)).length;

      const issued = await post(app, '/oauth/token', { grant_type: 'client_credentials' }, creds(c));
      assert.equal(issued.status, 200, issued.raw);
      assert.deepEqual(Object.keys(issued.body), ['access_token', 'token_type', 'expires_in', 'scope']);
      assert.match(issued.body.access_token, ACCESS_TOKEN);
      assert.equal(issued.body.token_type, 'Bearer');
      assert.equal(issued.body.scope, 'read write');
      assert.ok(issued.body.expires_in >= config.oauthTokenTtlSeconds - 1 && issued.body.expires_in <= config.oauthTokenTtlSeconds, `expires_in ${issued.body.expires_in}`);
      assert.equal(issued.headers['cache-control'], 'no-store');
      assert.equal(issued.headers.pragma, 'no-cache');
      const token: string = issued.body.access_token;

      // Stored like a CLI token: only the hash, with an expiry, the client, a description and the granted scopes.
      const rows = await tokenRows(db.store);
      assert.equal(rows.length, before + 1);
      const row = rows.at(-1)!;
      const clientRow = await db.store.db.selectFrom('oauth_clients').selectAll().where('client_id', '=', c.client_id).executeTakeFirstOrThrow();
      assert.equal(row.token_hash, hashApiToken(token));
      assert.equal(row.oauth_client_id, clientRow.id);
      assert.equal(row.description, 'oauth:terraform CI');
      assert.equal(row.scopes, 'read,write');
      assert.match(row.expires_at!, ISO);
      const lifetime = (Date.parse(row.expires_at!) - Date.parse(row.created_at)) / 1000;
      assert.ok(lifetime >= config.oauthTokenTtlSeconds && lifetime <= config.oauthTokenTtlSeconds + 1, `stored lifetime ${lifetime}`);
      for (const value of [...Object.values(row), ...Object.values(clientRow)]) assert.ok(!String(value).includes(token), 'no column holds the access token');

      const listed = await call(app, 'GET', '/v2/managed_accounts', { token });
      assert.equal(listed.status, 200, listed.raw);
      const created = await call(app, 'POST', '/v2/managed_accounts', { token, body: { name: 'Via OAuth', contact_email: uniqueEmail() } });
      assert.equal(created.status, 201, created.raw);
      const me = await call(app, 'GET', '/v2/me', { token });
      assert.deepEqual(me.body.bearer_token, { description: 'oauth:terraform CI', created_at: row.created_at, scope: ['read', 'write'] });

      const active = await post(app, '/oauth/introspect', { token }, creds(c));
      assert.equal(active.status, 200, active.raw);
      assert.deepEqual(active.body, {
        active: true,
        scope: 'read write',
        client_id: c.client_id,
        token_type: 'Bearer',
        exp: Date.parse(row.expires_at!) / 1000,
        iat: Date.parse(row.created_at) / 1000,
        sub: msp.accountToken,
      });
      assert.equal(active.headers['cache-control'], 'no-store');

      const revoked = await post(app, '/oauth/revoke', { token, token_type_hint: 'access_token' }, creds(c));
      assert.equal(revoked.status, 200, revoked.raw);
      const next = await call(app, 'GET', '/v2/managed_accounts', { token });
      assert.equal(next.status, 401, next.raw);
      assert.equal(next.headers['www-authenticate'], 'Bearer realm="steward", error="invalid_token"');
      const inactive = await post(app, '/oauth/introspect', { token }, creds(c));
      assert.deepEqual(inactive.body, { active: false });
      // Revoking again, or an unknown token, is still 200 (RFC 7009 §2.2).
      assert.equal((await post(app, '/oauth/revoke', { token }, creds(c))).status, 200);
      assert.equal((await post(app, '/oauth/revoke', { token: 'not-a-token' }, creds(c))).status, 200);
      // The CLI-made tokens of the account are untouched.
      assert.equal((await call(app, 'GET', '/v2/managed_accounts', { token: msp.token })).status, 200);
    });

    test('client_secret_post in a form or a JSON body; scope a subset of the client’s (absent: all of them)', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const c = await client(db.store, msp.accountToken, 'read,write', null);

      const viaForm = await post(app, '/oauth/token', { grant_type: 'client_credentials', client_id: c.client_id, client_secret: c.client_secret, scope: 'read' });
      assert.equal(viaForm.status, 200, viaForm.raw);
      assert.equal(viaForm.body.scope, 'read');
      const viaJson = await call(app, 'POST', '/oauth/token', {
        body: { grant_type: 'client_credentials', client_id: c.client_id, client_secret: c.client_secret, scope: 'write  read', unknown_extra: { x: 1 } },
      });
      assert.equal(viaJson.status, 200, viaJson.raw);
      assert.equal(viaJson.body.scope, 'read write');
      const charset = await call(app, 'POST', '/oauth/token', {
        body: form({ grant_type: 'client_credentials', scope: 'write' }),
        headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', authorization: basic(c.client_id, c.client_secret) },
      });
      assert.equal(charset.status, 200, charset.raw);

      const rows = await tokenRows(db.store);
      assert.deepEqual(rows.slice(-3).map((r) => [r.scopes, r.description]), [
        ['read', `oauth:${c.client_id}`],
        ['read,write', `oauth:${c.client_id}`],
        ['write', `oauth:${c.client_id}`],
      ]);

      // A read-only grant reads and cannot write; a write-only one cannot read.
      const readOnly = viaForm.body.access_token as string;
      assert.equal((await call(app, 'GET', '/v2/managed_accounts', { token: readOnly })).status, 200);
      const write = await call(app, 'POST', '/v2/managed_accounts', { token: readOnly, body: { name: 'No', contact_email: uniqueEmail() } });
      assert.equal(write.status, 403, write.raw);
      assert.equal(write.headers['www-authenticate'], 'Bearer error="insufficient_scope", scope="write"');
      assert.equal((await call(app, 'GET', '/v2/managed_accounts', { token: charset.body.access_token })).status, 403);
    });

    test("a read-only client: its tokens get 403 on a write; asking for write is invalid_scope", async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const c = await client(db.store, msp.accountToken, 'read');
      const token = await issue(app, c);
      assert.equal((await call(app, 'GET', '/v2/billing_rules', { token })).status, 200);
      const write = await call(app, 'POST', '/v2/billing_rules', { token, body: { type: 'adjustment', title: 'X', percentage: 50 } });
      assert.equal(write.status, 403, write.raw);
      assert.deepEqual(write.body, { errors: ['This bearer token does not have the write scope required for this request'] });
      const rows = (await tokenRows(db.store)).length;
      for (const scope of ['write', 'read write', 'admin', 'read admin', '', 'read\u0000']) {
        const res = await post(app, '/oauth/token', { grant_type: 'client_credentials', scope }, creds(c));
        assertOAuthError(res, 400, 'invalid_scope');
      }
      assertOAuthError(await post(app, '/oauth/token', { grant_type: 'client_credentials', scope: 'write' }, creds(c)), 400, 'invalid_scope', /only scopes this client has \(read\)/);
      assert.equal((await tokenRows(db.store)).length, rows, 'no token was issued');
    });

    test('an expired token is 401 on /v2 and inactive on introspection', async (t) => {
      const { app, db } = await testApp(t, dialect.name, { oauthTokenTtlSeconds: 1 });
      const msp = await seedMsp(db.store);
      const c = await client(db.store, msp.accountToken);
      const issued = await post(app, '/oauth/token', { grant_type: 'client_credentials' }, creds(c));
      assert.equal(issued.status, 200, issued.raw);
      assert.ok([0, 1].includes(issued.body.expires_in), `expires_in ${issued.body.expires_in}`);
      const token: string = issued.body.access_token;
      // The expiry is rounded up to the whole second, so it has passed 2 s after issue at the latest.
      await new Promise((resolve) => setTimeout(resolve, 2100));
      const res = await call(app, 'GET', '/v2/managed_accounts', { token });
      assert.equal(res.status, 401, res.raw);
      assert.equal(res.headers['www-authenticate'], 'Bearer realm="steward", error="invalid_token"');
      assert.deepEqual((await post(app, '/oauth/introspect', { token }, creds(c))).body, { active: false });

      // Same with the expiry set in the database under a token with the default lifetime.
      const { app: app2, db: db2 } = await testApp(t, dialect.name);
      const msp2 = await seedMsp(db2.store);
      const c2 = await client(db2.store, msp2.accountToken);
      const token2 = await issue(app2, c2);
      await db2.store.db.updateTable('api_tokens').set({ expires_at: '2001-01-01T00:00:00Z' }).where('token_hash', '=', hashApiToken(token2)).execute();
      assert.equal((await call(app2, 'GET', '/v2/me', { token: token2 })).status, 401);
      assert.deepEqual((await post(app2, '/oauth/introspect', { token: token2 }, creds(c2))).body, { active: false });
    });

    test('errors as RFC 6749 §5.2: invalid_client (401), unsupported_grant_type, invalid_request, invalid_scope; none issues a token', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const c = await client(db.store, msp.accountToken);
      const gone = await client(db.store, msp.accountToken);
      await revokeOauthClient(db.store.db, gone.client_id);
      const grant = { grant_type: 'client_credentials' };
      const before = await tokenRows(db.store);

      assertOAuthError(await post(app, '/oauth/token', grant, { id: c.client_id, secret: `${c.client_secret.slice(0, -1)}${c.client_secret.endsWith('0') ? '1' : '0'}` }), 401, 'invalid_client', /client authentication failed/);
      assertOAuthError(await post(app, '/oauth/token', grant, { id: 'stw_client_0000000000000000', secret: c.client_secret }), 401, 'invalid_client');
      assertOAuthError(await post(app, '/oauth/token', grant, creds(gone)), 401, 'invalid_client');
      assertOAuthError(await post(app, '/oauth/token', { ...grant, client_id: c.client_id, client_secret: 'wrong' }), 401, 'invalid_client');
      assertOAuthError(await post(app, '/oauth/token', grant), 401, 'invalid_client', /client authentication is required/);
      assertOAuthError(await post(app, '/oauth/token', { ...grant, client_id: c.client_id }), 401, 'invalid_client');

      for (const grantType of ['password', 'authorization_code', 'refresh_token', 'urn:example:custom', 'client_credentials_']) {
        assertOAuthError(await post(app, '/oauth/token', { grant_type: grantType }, creds(c)), 400, 'unsupported_grant_type', /only grant type is client_credentials/);
      }
      assertOAuthError(await post(app, '/oauth/token', {}, creds(c)), 400, 'invalid_request', /^grant_type is required \(grant_type=client_credentials\)$/);
      // `curl -d '{"grant_type":…}'` sends JSON labelled as a form: the answer says so.
      assertOAuthError(
        await call(app, 'POST', '/oauth/token', { body: '{"grant_type":"client_credentials"}', headers: { ...FORM, authorization: basic(c.client_id, c.client_secret) } }),
        400,
        'invalid_request',
        /looks like JSON sent as a form: add Content-Type: application\/json/,
      );
      assertOAuthError(await post(app, '/oauth/token', { ...grant, scope: 'read delete' }, creds(c)), 400, 'invalid_scope');
      assertOAuthError(await call(app, 'POST', '/oauth/token', { body: { grant_type: ['client_credentials'], client_id: c.client_id, client_secret: c.client_secret } }), 400, 'invalid_request', /grant_type must be a string/);
      assertOAuthError(await call(app, 'POST', '/oauth/token', { body: '["grant_type"]', headers: { 'content-type': 'application/json' } }), 400, 'invalid_request');
      assertOAuthError(await call(app, 'POST', '/oauth/token', { body: '{"grant_type": ', headers: { 'content-type': 'application/json' } }), 400, 'invalid_request', /not valid JSON/);
      assertOAuthError(
        await call(app, 'POST', '/oauth/token', { body: `{"__proto__": {"x": 1}, "grant_type": "client_credentials"}`, headers: { 'content-type': 'application/json' } }),
        400,
        'invalid_request',
        /__proto__/,
      );
      assertOAuthError(await call(app, 'POST', '/oauth/token', { body: 'grant_type=client_credentials', headers: { 'content-type': 'text/plain' } }), 400, 'invalid_request', /x-www-form-urlencoded/);
      assertOAuthError(await call(app, 'POST', '/oauth/token', { body: 'grant_type=client_credentials&grant_type=password', headers: { ...FORM, authorization: basic(c.client_id, c.client_secret) } }), 400, 'invalid_request', /repeated/);
      const huge = await call(app, 'POST', '/oauth/token', { body: `grant_type=client_credentials&pad=${'x'.repeat(1024 * 1024)}`, headers: FORM });
      assertOAuthError(huge, 413, 'invalid_request', /too large \(maximum is 1048576 bytes\)/);
      const badUtf8 = await app.inject({ method: 'POST', url: '/oauth/token', headers: { ...FORM, authorization: basic(c.client_id, c.client_secret) }, payload: Buffer.from([0x67, 0x3d, 0xff, 0xfe]) });
      assert.equal(badUtf8.statusCode, 400, badUtf8.body);
      assert.equal(JSON.parse(badUtf8.body).error, 'invalid_request');

      assert.deepEqual(await tokenRows(db.store), before, 'no refused request issued or changed a token');
      // The same client still gets tokens afterwards.
      assert.match(await issue(app, c), ACCESS_TOKEN);
    });

    test("a client of account B cannot revoke or introspect A's tokens (inactive, and the token keeps working); nor can another client of A", async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const a = await seedMsp(db.store, 'MSP A');
      const b = await seedMsp(db.store, 'MSP B');
      const clientA = await client(db.store, a.accountToken);
      const otherA = await client(db.store, a.accountToken);
      const clientB = await client(db.store, b.accountToken);
      const tokenA = await issue(app, clientA);
      const before = await tokenRows(db.store);

      for (const outsider of [clientB, otherA]) {
        assert.deepEqual((await post(app, '/oauth/introspect', { token: tokenA }, creds(outsider))).body, { active: false });
        const revoke = await post(app, '/oauth/revoke', { token: tokenA }, creds(outsider));
        assert.equal(revoke.status, 200, revoke.raw);
      }
      // A CLI-made token was issued to no client: inactive for every client, and not revocable through OAuth.
      assert.deepEqual((await post(app, '/oauth/introspect', { token: a.token }, creds(clientA))).body, { active: false });
      assert.equal((await post(app, '/oauth/revoke', { token: a.token }, creds(clientA))).status, 200);

      assert.deepEqual(await tokenRows(db.store), before, 'nothing was revoked');
      assert.equal((await call(app, 'GET', '/v2/managed_accounts', { token: tokenA })).status, 200);
      assert.equal((await call(app, 'GET', '/v2/managed_accounts', { token: a.token })).status, 200);
      assert.equal((await post(app, '/oauth/introspect', { token: tokenA }, creds(clientA))).body.active, true);
      // B's token acts for B only.
      const tokenB = await issue(app, clientB);
      const listed = await call(app, 'GET', '/v2/managed_accounts', { token: tokenB });
      assert.deepEqual(listed.body.managed_accounts, []);
    });

    test('revoking a client revokes the tokens it was issued, not the others', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const c = await client(db.store, msp.accountToken);
      const kept = await client(db.store, msp.accountToken);
      const [first, second, other] = [await issue(app, c), await issue(app, c), await issue(app, kept)];
      const view = await revokeOauthClient(db.store.db, c.client_id);
      assert.match(view.revoked_at!, ISO);
      for (const token of [first, second]) assert.equal((await call(app, 'GET', '/v2/me', { token })).status, 401);
      assert.equal((await call(app, 'GET', '/v2/me', { token: other })).status, 200);
      assert.equal((await call(app, 'GET', '/v2/me', { token: msp.token })).status, 200);
      assertOAuthError(await post(app, '/oauth/token', { grant_type: 'client_credentials' }, creds(c)), 401, 'invalid_client');
      assertOAuthError(await post(app, '/oauth/introspect', { token: first }, creds(c)), 401, 'invalid_client');
    });

    test('a token issued while its client is being revoked dies with the client (race of 30 grants and a revoke)', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const c = await client(db.store, msp.accountToken);
      const grants = Array.from({ length: 30 }, () => post(app, '/oauth/token', { grant_type: 'client_credentials' }, creds(c)));
      await new Promise((resolve) => setTimeout(resolve, 20)); // some grants are past the secret check, some not
      await revokeOauthClient(db.store.db, c.client_id);
      const issued = (await Promise.all(grants)).filter((res) => res.status === 200).map((res) => res.body.access_token as string);
      for (const token of issued) assert.equal((await call(app, 'GET', '/v2/me', { token })).status, 401, 'a token of a revoked client works');
      console.log(`${issued.length} of 30 grants were issued around the revocation; all are refused now`);
    });

    test('RFC 8414 metadata names the public origin and what the server supports', async (t) => {
      const { app } = await testApp(t, dialect.name);
      const res = await call(app, 'GET', '/.well-known/oauth-authorization-server');
      assert.equal(res.status, 200, res.raw);
      const methods = ['client_secret_basic', 'client_secret_post'];
      assert.deepEqual(res.body, {
        issuer: 'https://steward.test',
        token_endpoint: 'https://steward.test/oauth/token',
        revocation_endpoint: 'https://steward.test/oauth/revoke',
        introspection_endpoint: 'https://steward.test/oauth/introspect',
        grant_types_supported: ['client_credentials'],
        response_types_supported: [],
        token_endpoint_auth_methods_supported: methods,
        revocation_endpoint_auth_methods_supported: methods,
        introspection_endpoint_auth_methods_supported: methods,
        scopes_supported: ['read', 'write'],
      });
      // Not part of the served Vantage OpenAPI document.
      const doc = (await call(app, 'GET', '/v2/oas_v3.json')).body;
      assert.deepEqual(Object.keys(doc.paths).filter((p) => !p.startsWith('/v2/')), []);
    });

    test('last_used_at: set by a call, written at most once a minute', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const account = await createAccount(db.store.db, { name: 'Plain', msp: false });
      const made = await createApiToken(db.store.db, { accountToken: account.token, scopes: 'read' });
      const lastUsed = async () =>
        (await db.store.db.selectFrom('api_tokens').select('last_used_at').where('token_hash', '=', hashApiToken(made.token)).executeTakeFirstOrThrow()).last_used_at;
      assert.equal(await lastUsed(), null);
      assert.equal((await call(app, 'GET', '/v2/me', { token: made.token })).status, 200);
      const first = await lastUsed();
      assert.match(first!, ISO);
      assert.ok(Math.abs(Date.parse(first!) - Date.now()) < 5000);
      // Within the minute: no new write (a marker value survives).
      const marker = new Date(Date.now() - 30_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
      await db.store.db.updateTable('api_tokens').set({ last_used_at: marker }).where('token_hash', '=', hashApiToken(made.token)).execute();
      await call(app, 'GET', '/v2/me', { token: made.token });
      assert.equal(await lastUsed(), marker);
      // Older than a minute: written again. A refused request (403: no write scope) is still a use of the token.
      await db.store.db.updateTable('api_tokens').set({ last_used_at: '2020-01-01T00:00:00Z' }).where('token_hash', '=', hashApiToken(made.token)).execute();
      assert.equal((await call(app, 'POST', '/v2/integrations/custom_provider', { token: made.token, body: {} })).status, 403);
      assert.ok((await lastUsed())! > marker);
    });

    test('client secrets and access tokens never reach the log (serve with LOG_LEVEL=info)', async (t) => {
      const db = await freshDatabase(dialect.name);
      const msp = await seedMsp(db.store);
      const c = await client(db.store, msp.accountToken);
      const child = spawn(process.execPath, ['bin/steward.js', 'serve', '--port', '0', '--host', '127.0.0.1', '--database', db.url], {
        cwd: ROOT,
        env: childEnv({ ...db.env, LOG_LEVEL: 'info', STEWARD_ENCRYPTION_KEY: randomBytes(32).toString('hex') }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let log = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
      const exited = new Promise((resolve) => child.once('exit', resolve));
      t.after(async () => {
        if (child.exitCode === null) child.kill('SIGTERM');
        await exited;
        await db.close();
      });
      const origin = await waitFor(() => /Steward is listening on (http:\/\/\S+) /.exec(log)?.[1], () => log);

      const auth = { authorization: basic(c.client_id, c.client_secret), 'content-type': FORM['content-type'] };
      const issued = await fetch(`${origin}/oauth/token`, { method: 'POST', headers: auth, body: 'grant_type=client_credentials' });
      const token = ((await issued.json()) as { access_token: string }).access_token;
      assert.match(token, ACCESS_TOKEN);
      const bodyCreds = form({ grant_type: 'client_credentials', client_id: c.client_id, client_secret: c.client_secret });
      assert.equal((await fetch(`${origin}/oauth/token`, { method: 'POST', headers: FORM, body: bodyCreds })).status, 200);
      assert.equal((await fetch(`${origin}/v2/managed_accounts`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
      assert.equal((await fetch(`${origin}/oauth/introspect`, { method: 'POST', headers: auth, body: `token=${token}` })).status, 200);
      assert.equal((await fetch(`${origin}/oauth/revoke`, { method: 'POST', headers: auth, body: `token=${token}` })).status, 200);
      const wrong = await fetch(`${origin}/oauth/token`, { method: 'POST', headers: FORM, body: form({ grant_type: 'client_credentials', client_id: c.client_id, client_secret: `${c.client_secret}x` }) });
      assert.equal(wrong.status, 401);

      child.kill('SIGTERM');
      await exited;
      assert.match(log, /"url":"\/oauth\/token"/, 'requests were logged at info');
      assert.match(log, /"statusCode":401/);
      for (const secret of [c.client_secret, token, c.client_secret.slice('stw_secret_'.length), token.slice('vntg_tkn_'.length)]) {
        assert.ok(!log.includes(secret), `the log must not contain ${secret.slice(0, 14)}…`);
      }
    });
  });
}

async function waitFor<T>(probe: () => T | undefined, describe: () => string, timeoutMs = 60_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out; output so far: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
