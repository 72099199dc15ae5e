import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Store } from '../src/store/database.ts';
import { call, DIALECTS, seedMsp, testApp, uniqueEmail, type Response } from './helpers/app.ts';
import { contractMissing, contractViolations } from './helpers/contract.ts';

/** SPEC §3, DECISIONS S1–S3, M3, M9, M10, A5: the SSO connection of a managed account. */

const METADATA = 'https://idp.acme.example/metadata.xml';
const UNKNOWN_ACCOUNT = 'acct_0000000000000000';

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** Every response of these endpoints (and the managed-account ones used alongside) must match the contract. */
async function checked(app: FastifyInstance, method: Method, url: string, options: Parameters<typeof call>[3] = {}): Promise<Response> {
  const res = await call(app, method, url, options);
  if (!contractMissing) assert.deepEqual(contractViolations(method, url, res.status, res.body), [], `${method} ${url} → ${res.status} ${res.raw}`);
  return res;
}

const ssoPath = (account: string) => `/v2/managed_accounts/${account}/sso_connection`;

interface Ctx {
  app: FastifyInstance;
  store: Store;
  token: string;
  accountToken: string;
}

async function setup(t: Parameters<typeof testApp>[0], dialect: 'sqlite' | 'postgres', overrides: Parameters<typeof testApp>[2] = {}): Promise<Ctx> {
  const { app, db } = await testApp(t, dialect, overrides);
  const msp = await seedMsp(db.store);
  return { app, store: db.store, token: msp.token, accountToken: msp.accountToken };
}

async function account(ctx: Ctx, emailDomain: string | null, token = ctx.token): Promise<Response> {
  const res = await checked(ctx.app, 'POST', '/v2/managed_accounts', {
    token,
    body: { name: `Customer ${emailDomain ?? 'without domain'}`, contact_email: uniqueEmail('sso'), ...(emailDomain ? { email_domain: emailDomain } : {}) },
  });
  assert.equal(res.status, 201, res.raw);
  return res;
}

/** What the database holds for one account's SSO: the stored connection and every domain the account claims. */
async function stored(store: Store, accountToken: string): Promise<{ connection: Record<string, unknown> | null; claims: string[] }> {
  const acct = await store.db.selectFrom('accounts').select('id').where('token', '=', accountToken).executeTakeFirst();
  if (!acct) return { connection: null, claims: [] };
  const row = await store.db.selectFrom('sso_connections').selectAll().where('account_id', '=', acct.id).executeTakeFirst();
  const claims = await store.db.selectFrom('claimed_domains').selectAll().where('account_id', '=', acct.id).execute();
  return {
    connection: row ? { type: row.type, saml_metadata_url: row.saml_metadata_url, additional_domains: JSON.parse(row.additional_domains) } : null,
    claims: claims.map((c) => `${c.source}:${c.domain_key}`).sort(),
  };
}

/** Everything an SSO request could change: the account as GET shows it, every claimed domain, every connection. */
async function everything(ctx: Ctx, accountToken: string): Promise<unknown> {
  const got = await call(ctx.app, 'GET', `/v2/managed_accounts/${accountToken}`, { token: ctx.token });
  const claims = await ctx.store.db.selectFrom('claimed_domains').selectAll().orderBy('domain_key').execute();
  const connections = await ctx.store.db.selectFrom('sso_connections').selectAll().orderBy('id').execute();
  return { got: got.raw, claims, connections };
}

/** A 400 whose messages mention `field`, and nothing changed. */
async function refused(ctx: Ctx, accountToken: string, method: Method, body: unknown, field: string | RegExp): Promise<void> {
  const before = await everything(ctx, accountToken);
  const res = await checked(ctx.app, method, ssoPath(accountToken), { token: ctx.token, body });
  assert.equal(res.status, 400, `${method} ${JSON.stringify(body)}: ${res.raw}`);
  assert.deepEqual(Object.keys(res.body), ['errors']);
  assert.ok(res.body.errors.length > 0);
  assert.match(res.body.errors.join(' '), typeof field === 'string' ? new RegExp(field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : field, `${method} ${JSON.stringify(body)}: ${res.raw}`);
  assert.deepEqual(await everything(ctx, accountToken), before, `${method} ${JSON.stringify(body)} changed something`);
}

const count = (statuses: number[]) => statuses.reduce<Record<number, number>>((acc, s) => ({ ...acc, [s]: (acc[s] ?? 0) + 1 }), {});

for (const dialect of DIALECTS) {
  describe(`SSO connections [${dialect.name}]`, { skip: dialect.skip }, () => {
    test("SPEC §3's example: POST 201, PUT 200 (each the managed account exactly as GET shows it), DELETE 204 empty", async (t) => {
      const ctx = await setup(t, dialect.name);
      const created = await account(ctx, 'acme.example');
      const path = ssoPath(created.body.token);

      const posted = await checked(ctx.app, 'POST', path, {
        token: ctx.token,
        body: { type: 'saml', saml_metadata_url: METADATA, additional_domains: ['acme-corp.example'] },
      });
      assert.equal(posted.status, 201, posted.raw);
      assert.deepEqual(posted.body, created.body, 'the managed account, with no SSO fields');
      assert.equal(posted.raw, (await call(ctx.app, 'GET', `/v2/managed_accounts/${created.body.token}`, { token: ctx.token })).raw);
      assert.deepEqual(await stored(ctx.store, created.body.token), {
        connection: { type: 'saml', saml_metadata_url: METADATA, additional_domains: ['acme-corp.example'] },
        claims: ['email_domain:acme.example', 'sso:acme-corp.example'],
      });

      // PUT: the URL alone keeps the domains; a list replaces them; absent keeps; [] clears.
      const url2 = 'https://login.acme.example/saml/metadata?tenant=42';
      const put1 = await checked(ctx.app, 'PUT', path, { token: ctx.token, body: { saml_metadata_url: url2 } });
      assert.equal(put1.status, 200, put1.raw);
      assert.deepEqual(put1.body, created.body);
      assert.deepEqual((await stored(ctx.store, created.body.token)).connection, { type: 'saml', saml_metadata_url: url2, additional_domains: ['acme-corp.example'] });

      const put2 = await checked(ctx.app, 'PUT', path, { token: ctx.token, body: { additional_domains: ['acme.example.org', 'Acme-Group.example'] } });
      assert.equal(put2.status, 200, put2.raw);
      assert.deepEqual(await stored(ctx.store, created.body.token), {
        connection: { type: 'saml', saml_metadata_url: url2, additional_domains: ['acme.example.org', 'Acme-Group.example'] },
        claims: ['email_domain:acme.example', 'sso:acme-group.example', 'sso:acme.example.org'],
      });
      const same = await checked(ctx.app, 'PUT', path, { token: ctx.token, body: {} });
      assert.equal(same.status, 200, same.raw);
      assert.deepEqual((await stored(ctx.store, created.body.token)).connection?.additional_domains, ['acme.example.org', 'Acme-Group.example']);
      // The freed domain can be claimed at once by another account.
      await account(ctx, 'acme-corp.example');

      const cleared = await checked(ctx.app, 'PUT', path, { token: ctx.token, body: { additional_domains: [], saml_metadata_url: null } });
      assert.equal(cleared.status, 200, cleared.raw);
      assert.deepEqual(await stored(ctx.store, created.body.token), {
        connection: { type: 'saml', saml_metadata_url: url2, additional_domains: [] },
        claims: ['email_domain:acme.example'],
      });

      await checked(ctx.app, 'PUT', path, { token: ctx.token, body: { additional_domains: ['acme-group.example'] } });
      const deleted = await checked(ctx.app, 'DELETE', path, { token: ctx.token, body: {} });
      assert.equal(deleted.status, 204);
      assert.equal(deleted.raw, '');
      assert.deepEqual(await stored(ctx.store, created.body.token), { connection: null, claims: ['email_domain:acme.example'] });
      assert.equal((await call(ctx.app, 'GET', `/v2/managed_accounts/${created.body.token}`, { token: ctx.token })).raw, created.raw);
      // Released: another account may take it; and the connection can be made again.
      await account(ctx, 'acme-group.example');
      const again = await checked(ctx.app, 'POST', path, { token: ctx.token, body: { type: 'saml', saml_metadata_url: METADATA } });
      assert.equal(again.status, 201, again.raw);
      assert.deepEqual((await stored(ctx.store, created.body.token)).connection, { type: 'saml', saml_metadata_url: METADATA, additional_domains: [] });
    });

    test('S1: no email_domain, a second POST, PUT or DELETE without a connection: 400 naming the reason, nothing changes', async (t) => {
      const ctx = await setup(t, dialect.name);
      const bare = (await account(ctx, null)).body.token;
      await refused(ctx, bare, 'POST', { type: 'saml', saml_metadata_url: METADATA }, 'email_domain');
      await refused(ctx, bare, 'POST', { type: 'saml', saml_metadata_url: METADATA, additional_domains: ['bare.example'] }, 'email_domain');
      assert.deepEqual(await stored(ctx.store, bare), { connection: null, claims: [] });

      const withDomain = (await account(ctx, 'initech.example')).body.token;
      await refused(ctx, withDomain, 'PUT', { saml_metadata_url: METADATA }, /sso_connection does not exist/);
      await refused(ctx, withDomain, 'DELETE', undefined, /sso_connection does not exist/);
      await refused(ctx, withDomain, 'DELETE', {}, /sso_connection does not exist/);
      const posted = await checked(ctx.app, 'POST', ssoPath(withDomain), { token: ctx.token, body: { type: 'saml', saml_metadata_url: METADATA, additional_domains: ['initech.example.net'] } });
      assert.equal(posted.status, 201, posted.raw);
      await refused(ctx, withDomain, 'POST', { type: 'saml', saml_metadata_url: 'https://other.example/m.xml', additional_domains: ['initrode.example'] }, /sso_connection already exists/);
      assert.deepEqual(await stored(ctx.store, withDomain), {
        connection: { type: 'saml', saml_metadata_url: METADATA, additional_domains: ['initech.example.net'] },
        claims: ['email_domain:initech.example', 'sso:initech.example.net'],
      });
      assert.equal((await checked(ctx.app, 'DELETE', ssoPath(withDomain), { token: ctx.token })).status, 204);
      await refused(ctx, withDomain, 'DELETE', undefined, /sso_connection does not exist/);
    });

    test('unknown, malformed and other MSPs\' accounts: the same 404 as the managed-account routes, before any body check (A5)', async (t) => {
      const ctx = await setup(t, dialect.name);
      const other = await seedMsp(ctx.store, 'MSP B');
      const theirs = (await account(ctx, 'theirs.example', other.token)).body.token;
      const theirsWithSso = (await account(ctx, 'theirs-sso.example', other.token)).body.token;
      assert.equal((await call(ctx.app, 'POST', ssoPath(theirsWithSso), { token: other.token, body: { type: 'saml', saml_metadata_url: METADATA } })).status, 201);
      const notFound = (await call(ctx.app, 'GET', `/v2/managed_accounts/${UNKNOWN_ACCOUNT}`, { token: ctx.token })).raw;
      assert.equal(notFound, '{"errors":["Managed account not found"]}');
      const before = await everything({ ...ctx, token: other.token }, theirsWithSso);
      const bodies: Record<Method, unknown[]> = {
        POST: [{ type: 'saml', saml_metadata_url: METADATA, additional_domains: ['hijack.example'] }, { type: 'saml' }, { type: 'saml', saml_metadata_url: 'http://x' }],
        PUT: [{ saml_metadata_url: METADATA }, { additional_domains: ['hijack.example'] }, { additional_domains: null }, { saml_metadata_url: 'nope' }],
        DELETE: [undefined, {}],
        GET: [],
      };
      for (const method of ['POST', 'PUT', 'DELETE'] as const) {
        for (const body of bodies[method]) {
          for (const target of [UNKNOWN_ACCOUNT, theirs, theirsWithSso, 'acct_not-a-token', 'nope']) {
            const res = await checked(ctx.app, method, ssoPath(target), { token: ctx.token, body });
            assert.equal(res.status, 404, `${method} ${target} ${JSON.stringify(body)}: ${res.raw}`);
            assert.equal(res.raw, notFound, `${method} ${target} ${JSON.stringify(body)}`);
          }
        }
      }
      assert.deepEqual(await everything({ ...ctx, token: other.token }, theirsWithSso), before);
      assert.deepEqual(await stored(ctx.store, theirs), { connection: null, claims: ['email_domain:theirs.example'] });
      await account(ctx, 'hijack.example');
    });

    test('type is required and only saml (on PUT too); saml needs saml_metadata_url (400 naming the field, nothing changes)', async (t) => {
      const ctx = await setup(t, dialect.name);
      const acct = (await account(ctx, 'globex.example')).body.token;
      await refused(ctx, acct, 'POST', { saml_metadata_url: METADATA }, 'type');
      await refused(ctx, acct, 'POST', { type: null, saml_metadata_url: METADATA }, 'type');
      for (const type of ['oidc', 'SAML', 'Saml', '', ' saml']) await refused(ctx, acct, 'POST', { type, saml_metadata_url: METADATA }, 'type must be one of saml');
      await refused(ctx, acct, 'POST', { type: 5, saml_metadata_url: METADATA }, 'type');
      await refused(ctx, acct, 'POST', { type: 'saml' }, 'saml_metadata_url is required when type is saml');
      await refused(ctx, acct, 'POST', { type: 'saml', saml_metadata_url: null }, 'saml_metadata_url is required when type is saml');
      await refused(ctx, acct, 'POST', undefined, /type|body/);
      await refused(ctx, acct, 'POST', '[]', /body|object/);
      // W2: unknown keys are ignored and never stored.
      const ok = await checked(ctx.app, 'POST', ssoPath(acct), { token: ctx.token, body: { type: 'saml', saml_metadata_url: METADATA, idp_certificate: 'x', entity_id: 'y' } });
      assert.equal(ok.status, 201, ok.raw);
      assert.deepEqual((await stored(ctx.store, acct)).connection, { type: 'saml', saml_metadata_url: METADATA, additional_domains: [] });
      await refused(ctx, acct, 'PUT', { saml_metadata_url: 42 }, 'saml_metadata_url');
      // PUT may repeat the type but never appear to change it (a new user's PUT {"type":"oidc"} used to answer 200).
      for (const type of ['oidc', 'SAML']) await refused(ctx, acct, 'PUT', { type, saml_metadata_url: 'https://idp.other.example/m.xml' }, 'type must be one of saml');
      await refused(ctx, acct, 'PUT', { type: 5 }, 'type must be a string');
      assert.equal((await checked(ctx.app, 'PUT', ssoPath(acct), { token: ctx.token, body: { type: 'saml' } })).status, 200);
    });

    test('S2: saml_metadata_url is an absolute https:// URL, never fetched; http:// only with the development flag', async (t) => {
      const ctx = await setup(t, dialect.name);
      const acct = (await account(ctx, 'hooli.example')).body.token;
      const bad = [
        'http://idp.hooli.example/metadata.xml',
        'HTTP://idp.hooli.example/metadata.xml',
        'ftp://idp.hooli.example/metadata.xml',
        'javascript:alert(1)',
        'file:///etc/passwd',
        'idp.hooli.example/metadata.xml',
        '//idp.hooli.example/metadata.xml',
        '/metadata.xml',
        'https://',
        'https:idp.hooli.example',
        'https:/idp.hooli.example/m',
        'https://user:secret@idp.hooli.example/metadata.xml',
        'https://idp.hooli.example/meta data.xml',
        ' https://idp.hooli.example/metadata.xml',
        'https://idp.hooli.example/metadata.xml\n',
        'https://idp.hooli.example\u0000/m',
        'https://[::1/metadata',
        '',
        `https://idp.hooli.example/${'a'.repeat(2048)}`,
      ];
      for (const url of bad) await refused(ctx, acct, 'POST', { type: 'saml', saml_metadata_url: url }, 'saml_metadata_url');
      // Never fetched: an unreachable host is accepted as configuration (S2; fetching is not enabled).
      const unreachable = 'https://idp.invalid:8443/federationmetadata/2007-06/federationmetadata.xml';
      const posted = await checked(ctx.app, 'POST', ssoPath(acct), { token: ctx.token, body: { type: 'saml', saml_metadata_url: unreachable } });
      assert.equal(posted.status, 201, posted.raw);
      assert.deepEqual((await stored(ctx.store, acct)).connection, { type: 'saml', saml_metadata_url: unreachable, additional_domains: [] });
      for (const url of bad) await refused(ctx, acct, 'PUT', { saml_metadata_url: url }, 'saml_metadata_url');
    });

    test('S2: with allowHttpSamlMetadata (STEWARD_ALLOW_HTTP_SAML_METADATA) http:// is accepted too, nothing else', async (t) => {
      const dev = await setup(t, dialect.name, { allowHttpSamlMetadata: true });
      const devAcct = (await account(dev, 'hooli-dev.example')).body.token;
      await refused(dev, devAcct, 'POST', { type: 'saml', saml_metadata_url: 'ftp://idp.hooli.example/m' }, 'saml_metadata_url');
      const http = await checked(dev.app, 'POST', ssoPath(devAcct), { token: dev.token, body: { type: 'saml', saml_metadata_url: 'http://localhost:8080/metadata.xml' } });
      assert.equal(http.status, 201, http.raw);
      assert.deepEqual((await stored(dev.store, devAcct)).connection, { type: 'saml', saml_metadata_url: 'http://localhost:8080/metadata.xml', additional_domains: [] });
    });

    test('S3: additional_domains are domains as for email_domain; duplicates and the own email_domain dropped; stored as sent', async (t) => {
      const ctx = await setup(t, dialect.name);
      const acct = (await account(ctx, 'Umbrella.example')).body.token;
      for (const [i, value] of ['https://umbrella.example', 'admin@umbrella.example', 'umbrella.example/path', 'umbrella.example:443', 'co.uk', 'github.io', '192.168.1.10', 'localhost', '', ' umbrella.example', 'umbr\u00adella.example', 'umbrella..example'].entries()) {
        await refused(ctx, acct, 'POST', { type: 'saml', saml_metadata_url: METADATA, additional_domains: ['fine.example', value] }, 'additional_domains[1]');
        if (i === 0) await refused(ctx, acct, 'POST', { type: 'saml', saml_metadata_url: METADATA, additional_domains: [value] }, 'additional_domains[0]');
      }
      await refused(ctx, acct, 'POST', { type: 'saml', saml_metadata_url: METADATA, additional_domains: 'umbrella.example' }, 'additional_domains');
      await refused(ctx, acct, 'POST', { type: 'saml', saml_metadata_url: METADATA, additional_domains: [7] }, 'additional_domains[0]');
      const tooMany = Array.from({ length: 101 }, (_, i) => `d${i}.umbrella.example`);
      await refused(ctx, acct, 'POST', { type: 'saml', saml_metadata_url: METADATA, additional_domains: tooMany }, 'additional_domains has too many entries (maximum is 100)');

      const posted = await checked(ctx.app, 'POST', ssoPath(acct), {
        token: ctx.token,
        body: {
          type: 'saml',
          saml_metadata_url: METADATA,
          additional_domains: ['Umbrella-Corp.example', 'umbrella.example', 'UMBRELLA-CORP.EXAMPLE', 'bücher.example', 'xn--bcher-kva.example', 'raccoon.example.', 'raccoon.example'],
        },
      });
      assert.equal(posted.status, 201, posted.raw);
      assert.deepEqual(await stored(ctx.store, acct), {
        connection: { type: 'saml', saml_metadata_url: METADATA, additional_domains: ['Umbrella-Corp.example', 'bücher.example', 'raccoon.example.'] },
        claims: ['email_domain:umbrella.example', 'sso:raccoon.example', 'sso:umbrella-corp.example', 'sso:xn--bcher-kva.example'],
      });
      // C03 by analogy: on PUT a null list is ambiguous and refused; on POST null means absent (W3).
      await refused(ctx, acct, 'PUT', { additional_domains: null }, 'additional_domains');
      await refused(ctx, acct, 'PUT', { additional_domains: ['ok.example', 'not a domain'] }, 'additional_domains[1]');
      const other = (await account(ctx, 'nullable.example')).body.token;
      const withNull = await checked(ctx.app, 'POST', ssoPath(other), { token: ctx.token, body: { type: 'saml', saml_metadata_url: METADATA, additional_domains: null } });
      assert.equal(withNull.status, 201, withNull.raw);
      assert.deepEqual((await stored(ctx.store, other)).connection?.additional_domains, []);
    });

    test('S3/M3: SSO domains and email_domains are unique across all accounts and MSPs, case-insensitively, both ways', async (t) => {
      const ctx = await setup(t, dialect.name);
      const other = await seedMsp(ctx.store, 'MSP B');
      const a1 = (await account(ctx, 'wayne.example')).body.token;
      const a2 = (await account(ctx, 'stark.example')).body.token;
      const b1 = (await account(ctx, 'oscorp.example', other.token)).body.token;
      const taken = (domain: string) => `additional_domains contains ${domain}, which has already been taken by another account`;

      // An SSO domain cannot be another account's email_domain (same MSP or another MSP), nor its SSO domain.
      for (const [domain, owner] of [['WAYNE.example', 'same MSP'], ['Oscorp.Example', 'another MSP'], ['stark.example', 'own email_domain, dropped']] as const) {
        if (owner === 'own email_domain, dropped') continue;
        const before = await everything(ctx, a2);
        const res = await checked(ctx.app, 'POST', ssoPath(a2), { token: ctx.token, body: { type: 'saml', saml_metadata_url: METADATA, additional_domains: ['fine.example', domain] } });
        assert.equal(res.status, 400, res.raw);
        assert.deepEqual(res.body, { errors: [taken(domain)] }, owner);
        assert.deepEqual(await everything(ctx, a2), before);
      }
      const posted = await checked(ctx.app, 'POST', ssoPath(a2), { token: ctx.token, body: { type: 'saml', saml_metadata_url: METADATA, additional_domains: ['stark-industries.example', 'Stark.example'] } });
      assert.equal(posted.status, 201, posted.raw);
      const bPosted = await checked(ctx.app, 'POST', ssoPath(b1), { token: other.token, body: { type: 'saml', saml_metadata_url: METADATA, additional_domains: ['STARK-INDUSTRIES.example'] } });
      assert.equal(bPosted.status, 400, bPosted.raw);
      assert.deepEqual(bPosted.body, { errors: [taken('STARK-INDUSTRIES.example')] });
      const a1Put = await checked(ctx.app, 'POST', ssoPath(a1), { token: ctx.token, body: { type: 'saml', saml_metadata_url: METADATA, additional_domains: ['x.example', 'stark-industries.example', 'y.example'] } });
      assert.deepEqual(a1Put.body, { errors: [taken('stark-industries.example')] });

      // An email_domain cannot be another account's SSO domain: create and update, in any case.
      const create = await checked(ctx.app, 'POST', '/v2/managed_accounts', { token: other.token, body: { name: 'Copy', contact_email: uniqueEmail(), email_domain: 'Stark-Industries.EXAMPLE' } });
      assert.equal(create.status, 400, create.raw);
      assert.deepEqual(create.body, { errors: ['email_domain has already been taken by another account'] });
      const update = await checked(ctx.app, 'PUT', `/v2/managed_accounts/${a1}`, { token: ctx.token, body: { email_domain: 'stark-industries.example' } });
      assert.equal(update.status, 400, update.raw);
      assert.deepEqual(update.body, { errors: ['email_domain has already been taken by another account'] });
      assert.equal((await call(ctx.app, 'GET', `/v2/managed_accounts/${a1}`, { token: ctx.token })).body.email_domain, 'wayne.example');

      // PUT replaces: what the list no longer names is released, what it keeps stays claimed.
      const moved = await checked(ctx.app, 'PUT', ssoPath(a2), { token: ctx.token, body: { additional_domains: ['stark-industries.example', 'jarvis.example'] } });
      assert.equal(moved.status, 200, moved.raw);
      const conflict = await checked(ctx.app, 'PUT', ssoPath(a2), { token: ctx.token, body: { additional_domains: ['jarvis.example', 'wayne.example'] } });
      assert.deepEqual(conflict.body, { errors: [taken('wayne.example')] });
      assert.deepEqual(await stored(ctx.store, a2), {
        connection: { type: 'saml', saml_metadata_url: METADATA, additional_domains: ['stark-industries.example', 'jarvis.example'] },
        claims: ['email_domain:stark.example', 'sso:jarvis.example', 'sso:stark-industries.example'],
      });
    });

    test("changing email_domain to one of the account's own SSO domains moves it there instead of conflicting (S3)", async (t) => {
      const ctx = await setup(t, dialect.name);
      const acct = await account(ctx, 'lexcorp.example');
      const token = acct.body.token;
      await checked(ctx.app, 'POST', ssoPath(token), { token: ctx.token, body: { type: 'saml', saml_metadata_url: METADATA, additional_domains: ['LexCorp.example.org', 'luthor.example'] } });
      const updated = await checked(ctx.app, 'PUT', `/v2/managed_accounts/${token}`, { token: ctx.token, body: { email_domain: 'lexcorp.EXAMPLE.org' } });
      assert.equal(updated.status, 200, updated.raw);
      assert.deepEqual(updated.body, { ...acct.body, email_domain: 'lexcorp.EXAMPLE.org' });
      assert.deepEqual(await stored(ctx.store, token), {
        connection: { type: 'saml', saml_metadata_url: METADATA, additional_domains: ['luthor.example'] },
        claims: ['email_domain:lexcorp.example.org', 'sso:luthor.example'],
      });
      // The old email_domain is free; the SSO domain still is not.
      await account(ctx, 'lexcorp.example');
      const dup = await checked(ctx.app, 'POST', '/v2/managed_accounts', { token: ctx.token, body: { name: 'Dup', contact_email: uniqueEmail(), email_domain: 'luthor.example' } });
      assert.equal(dup.status, 400, dup.raw);
      // A refused update moves nothing.
      const bad = await checked(ctx.app, 'PUT', `/v2/managed_accounts/${token}`, { token: ctx.token, body: { email_domain: 'luthor.example', name: '' } });
      assert.equal(bad.status, 400, bad.raw);
      assert.deepEqual((await stored(ctx.store, token)).connection?.additional_domains, ['luthor.example']);
    });

    test('M10: parallel POSTs (and PUTs) claiming one domain on different accounts: exactly one wins, the rest get the sequential 400', async (t) => {
      const ctx = await setup(t, dialect.name);
      const accounts: string[] = [];
      for (let i = 0; i < 12; i++) accounts.push((await account(ctx, `racer-${i}.example`)).body.token);
      const ids = await Promise.all(accounts.map(async (a) => (await ctx.store.db.selectFrom('accounts').select('id').where('token', '=', a).executeTakeFirstOrThrow()).id));
      for (const [round, method] of [[0, 'POST'], [1, 'PUT']] as const) {
        const domain = `race-${round}.example`;
        const spelling = (i: number) => (i % 2 ? domain.toUpperCase() : domain);
        if (method === 'PUT') {
          // Every account gets a connection first; then all of them try to add the same domain at once.
          for (const a of accounts) {
            if ((await stored(ctx.store, a)).connection === null) {
              assert.equal((await call(ctx.app, 'POST', ssoPath(a), { token: ctx.token, body: { type: 'saml', saml_metadata_url: METADATA } })).status, 201);
            }
          }
        }
        const results = await Promise.all(
          accounts.map((a, i) =>
            call(ctx.app, method, ssoPath(a), {
              token: ctx.token,
              body: { ...(method === 'POST' ? { type: 'saml', saml_metadata_url: METADATA } : {}), additional_domains: [`own-${round}-${i}.example`, spelling(i)] },
            }),
          ),
        );
        const success = method === 'POST' ? 201 : 200;
        assert.deepEqual(count(results.map((r) => r.status)), { [success]: 1, 400: 11 }, results.map((r) => r.raw).join('\n'));
        results.forEach((r, i) => {
          if (r.status === 400) assert.deepEqual(r.body, { errors: [`additional_domains contains ${spelling(i)}, which has already been taken by another account`] });
          else if (!contractMissing) assert.deepEqual(contractViolations(method, ssoPath(accounts[i]!), r.status, r.body), []);
        });
        const winner = results.findIndex((r) => r.status === success);
        const claims = await ctx.store.db.selectFrom('claimed_domains').selectAll().where('domain_key', '=', domain).execute();
        assert.deepEqual(claims, [{ domain_key: domain, account_id: ids[winner], source: 'sso' }]);
        // The losers changed nothing: their own extra domain was not claimed either.
        const own = await ctx.store.db.selectFrom('claimed_domains').select('domain_key').where('domain_key', 'like', `own-${round}-%`).execute();
        assert.deepEqual(own.map((c) => c.domain_key), [`own-${round}-${winner}.example`]);
        assert.equal((await ctx.store.db.selectFrom('sso_connections').selectAll().execute()).length, method === 'POST' ? 1 : 12);
      }

      // An email_domain and an SSO domain racing for one name: exactly one of them gets it.
      for (let round = 0; round < 5; round++) {
        const name = `contested-${round}.example`;
        const [viaSso, viaAccount] = await Promise.all([
          call(ctx.app, 'PUT', ssoPath(accounts[round]!), { token: ctx.token, body: { additional_domains: [name] } }),
          call(ctx.app, 'POST', '/v2/managed_accounts', { token: ctx.token, body: { name: 'Contender', contact_email: uniqueEmail(), email_domain: name.toUpperCase() } }),
        ]);
        const outcome = `${viaSso!.status}/${viaAccount!.status}`;
        assert.ok(outcome === '200/400' || outcome === '400/201', `${outcome}: ${viaSso!.raw} ${viaAccount!.raw}`);
        assert.equal((await ctx.store.db.selectFrom('claimed_domains').selectAll().where('domain_key', '=', name).execute()).length, 1);
      }
    });

    test('SSO requests racing a DELETE of their account get their success status or 404, never a 500, and leave nothing behind', async (t) => {
      const ctx = await setup(t, dialect.name);
      for (let round = 0; round < 4; round++) {
        const acct = (await account(ctx, `doomed-${round}.example`)).body.token;
        const ok = await call(ctx.app, 'POST', ssoPath(acct), { token: ctx.token, body: { type: 'saml', saml_metadata_url: METADATA, additional_domains: [`doomed-sso-${round}.example`] } });
        assert.equal(ok.status, 201, ok.raw);
        const id = (await ctx.store.db.selectFrom('accounts').select('id').where('token', '=', acct).executeTakeFirstOrThrow()).id;
        const [deleted, ...others] = await Promise.all([
          call(ctx.app, 'DELETE', `/v2/managed_accounts/${acct}`, { token: ctx.token }),
          call(ctx.app, 'PUT', ssoPath(acct), { token: ctx.token, body: { additional_domains: [`doomed-put-${round}.example`] } }),
          call(ctx.app, 'DELETE', ssoPath(acct), { token: ctx.token }),
          call(ctx.app, 'PUT', ssoPath(acct), { token: ctx.token, body: { saml_metadata_url: 'https://idp.other.example/m.xml' } }),
        ]);
        assert.equal(deleted!.status, 204, deleted!.raw);
        for (const res of others) assert.ok([200, 204, 400, 404].includes(res.status), `${res.status} ${res.raw}`);
        assert.deepEqual(await ctx.store.db.selectFrom('sso_connections').selectAll().where('account_id', '=', id).execute(), []);
        assert.deepEqual(await ctx.store.db.selectFrom('claimed_domains').selectAll().where('account_id', '=', id).execute(), []);
        await account(ctx, `doomed-put-${round}.example`);
      }
    });

    test('C15/M9: deleting a managed account removes its SSO connection and frees its domains; a second DELETE is 404', async (t) => {
      const ctx = await setup(t, dialect.name);
      const acct = (await account(ctx, 'cyberdyne.example')).body.token;
      await checked(ctx.app, 'POST', ssoPath(acct), { token: ctx.token, body: { type: 'saml', saml_metadata_url: METADATA, additional_domains: ['skynet.example', 'Cyberdyne-Systems.example'] } });
      const id = (await ctx.store.db.selectFrom('accounts').select('id').where('token', '=', acct).executeTakeFirstOrThrow()).id;

      assert.equal((await checked(ctx.app, 'DELETE', `/v2/managed_accounts/${acct}`, { token: ctx.token })).status, 204);
      const second = await checked(ctx.app, 'DELETE', `/v2/managed_accounts/${acct}`, { token: ctx.token });
      assert.equal(second.status, 404);
      assert.ok(second.body.errors.length > 0);
      assert.equal((await checked(ctx.app, 'GET', `/v2/managed_accounts/${acct}`, { token: ctx.token })).status, 404);
      for (const method of ['PUT', 'DELETE'] as const) assert.equal((await checked(ctx.app, method, ssoPath(acct), { token: ctx.token, body: {} })).status, 404);
      assert.deepEqual(await ctx.store.db.selectFrom('sso_connections').selectAll().where('account_id', '=', id).execute(), []);
      assert.deepEqual(await ctx.store.db.selectFrom('claimed_domains').selectAll().where('account_id', '=', id).execute(), []);

      // Every freed domain can be claimed again: as an email_domain and as SSO domains.
      const fresh = (await account(ctx, 'skynet.example')).body.token;
      const reclaimed = await checked(ctx.app, 'POST', ssoPath(fresh), { token: ctx.token, body: { type: 'saml', saml_metadata_url: METADATA, additional_domains: ['cyberdyne.example', 'cyberdyne-systems.example'] } });
      assert.equal(reclaimed.status, 201, reclaimed.raw);
      assert.deepEqual((await stored(ctx.store, fresh)).claims, ['email_domain:skynet.example', 'sso:cyberdyne-systems.example', 'sso:cyberdyne.example']);
    });
  });
}

describe('served OpenAPI document for SSO connections and /v2/me', { skip: contractMissing }, () => {
  test("uses the contract's operationIds and success statuses, names the contract's schemas, and documents the errors", async (t) => {
    const { app } = await testApp(t, 'sqlite');
    const served = (await call(app, 'GET', '/v2/oas_v3.json')).body;
    const ops: Array<[string, string, string, string[], string]> = [
      ['/v2/managed_accounts/{managed_account_token}/sso_connection', 'post', 'createSsoConnectionForManagedAccount', ['201', '400', '401', '403', '404'], 'ManagedAccount'],
      ['/v2/managed_accounts/{managed_account_token}/sso_connection', 'put', 'updateSsoConnectionForManagedAccount', ['200', '400', '401', '403', '404'], 'ManagedAccount'],
      ['/v2/managed_accounts/{managed_account_token}/sso_connection', 'delete', 'deleteSsoConnectionForManagedAccount', ['204', '400', '401', '403', '404'], ''],
      ['/v2/me', 'get', 'getMe', ['200', '401', '403'], 'Me'],
    ];
    for (const [path, method, operationId, statuses, schema] of ops) {
      const op = served.paths[path]?.[method];
      assert.ok(op, `${method} ${path} is served`);
      assert.equal(op.operationId, operationId);
      assert.deepEqual(Object.keys(op.responses).sort(), statuses);
      if (schema) assert.equal(op.responses[statuses[0]!].content['application/json'].schema.$ref, `#/components/schemas/${schema}`);
    }
    for (const name of ['Me', 'Workspace', 'BearerToken']) assert.ok(served.components.schemas[name], `components.schemas.${name}`);
    const body = served.paths['/v2/managed_accounts/{managed_account_token}/sso_connection'].post.requestBody.content['application/json'].schema;
    assert.deepEqual(body.required, ['type']);
    assert.deepEqual(body.properties.type.enum, ['saml']);
  });
});
