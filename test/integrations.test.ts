import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { requireAccount } from '../src/domain/accounts.ts';
import { CLI_ACTOR } from '../src/domain/audit.ts';
import { createIntegration, secretPurpose } from '../src/domain/integrations.ts';
import { parseEncryptionKey, SecretBox } from '../src/domain/secret-box.ts';
import type { Store } from '../src/store/database.ts';
import { call, DIALECTS, nonMspToken, seedMsp, testApp, uniqueEmail, type Response } from './helpers/app.ts';
import { CONTRACT_PATH, contractMissing, contractOperation, contractViolations } from './helpers/contract.ts';

const INTEGRATION = /^accss_crdntl_[0-9a-f]{16}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const NOT_FOUND = '{"errors":["Integration not found"]}';
const SUB_1 = '8c1f7a0e-1f2b-4c2b-9f3d-5a6b7c8d9e01';
const SUB_2 = 'B2D4E6F8-90AB-4CDE-8123-456789ABCDEF';

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/**
 * The contract's statuses for the create operations. contractPath() resolves /integrations/gcp to the template
 * /integrations/{integration_token}, so these are checked against the same schemas (Integration, Errors) by hand.
 */
const CREATE_STATUSES: Record<string, number[]> = { custom_provider: [201, 400, 403], gcp: [201, 400], azure: [201, 400] };
const SOME_INTEGRATION = '/v2/integrations/accss_crdntl_0000000000000000';

/** Every response must match the contract's schema where it declares the status; every error is `{"errors": [...]}`. */
function assertConforms(method: Method, url: string, res: Response): void {
  if (res.status >= 400) {
    assert.deepEqual(Object.keys(res.body), ['errors'], `${method} ${url}: ${res.raw}`);
    assert.ok(res.body.errors.length > 0 && res.body.errors.every((m: unknown) => typeof m === 'string' && m !== ''), res.raw);
  }
  if (contractMissing) return;
  const create = method === 'POST' ? /^\/v2\/integrations\/(custom_provider|gcp|azure)$/.exec(url) : null;
  if (create) {
    const declared = CREATE_STATUSES[create[1] as string] as number[];
    assert.ok(declared.includes(res.status) || res.status === 401, `${method} ${url}: the contract declares no ${res.status}`);
    const equivalent = res.status === 201 ? contractViolations('GET', SOME_INTEGRATION, 200, res.body) : contractViolations('PUT', SOME_INTEGRATION, 400, res.body);
    assert.deepEqual(equivalent, [], `${method} ${url} → ${res.status} ${res.raw}`);
  } else if (res.status < 400 || String(res.status) in contractOperation(method, url).responses) {
    assert.deepEqual(contractViolations(method, url, res.status, res.body), [], `${method} ${url} → ${res.status} ${res.raw}`);
  }
}

async function checked(app: FastifyInstance, method: Method, url: string, options: Parameters<typeof call>[3] = {}): Promise<Response> {
  const res = await call(app, method, url, options);
  assertConforms(method, url, res);
  return res;
}

async function workspacesOf(store: Store, accountToken: string): Promise<string[]> {
  const rows = await store.db
    .selectFrom('workspaces as w')
    .innerJoin('accounts as a', 'a.id', 'w.account_id')
    .select('w.token')
    .where('a.token', '=', accountToken)
    .orderBy('w.id')
    .execute();
  return rows.map((r) => r.token);
}

async function addWorkspace(store: Store, accountToken: string, name: string): Promise<string> {
  const owner = await requireAccount(store.db, accountToken);
  const token = `wrkspc_${randomBytes(8).toString('hex')}`;
  await store.db.insertInto('workspaces').values({ token, account_id: owner.id, name, created_at: '2026-01-01T00:00:00Z' }).execute();
  return token;
}

async function count(store: Store, table: 'integration_workspaces' | 'managed_account_integrations' | 'integrations'): Promise<number> {
  const row = await store.db.selectFrom(table).select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

for (const dialect of DIALECTS) {
  describe(`integrations [${dialect.name}]`, { skip: dialect.skip }, () => {
    test('the served OpenAPI document has the contract’s operationIds and success statuses for every route here', { skip: contractMissing }, async (t) => {
      const { app } = await testApp(t, dialect.name);
      type Ops = Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;
      const served = (await call(app, 'GET', '/v2/oas_v3.json')).body.paths as Ops;
      const contract = JSON.parse(readFileSync(CONTRACT_PATH, 'utf8')).paths as Ops;
      const ours = Object.keys(served).filter((p) => p.startsWith('/v2/integrations') || p.endsWith('/integrations/{access_credential_token}'));
      assert.equal(ours.length, 6);
      let operations = 0;
      for (const path of ours) {
        for (const [method, op] of Object.entries(served[path] ?? {})) {
          const theirs = contract[path.replace(/^\/v2/, '')]?.[method];
          assert.ok(theirs, `${method} ${path} is in the contract`);
          assert.equal(op.operationId, theirs.operationId, `${method} ${path}`);
          const success = (r: Record<string, unknown>) => Object.keys(r).filter((s) => s.startsWith('2'));
          assert.deepEqual(success(op.responses), success(theirs.responses), `${method} ${path} success statuses`);
          for (const status of Object.keys(theirs.responses)) assert.ok(status in op.responses, `${method} ${path} declares ${status}`);
          operations += 1;
        }
      }
      assert.equal(operations, 9);
    });

    test('each create path answers 201 with the Integration, feeding the default workspace; settings stored, unknown keys ignored', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const [workspace] = await workspacesOf(db.store, msp.accountToken);
      const expected = (res: Response, provider: string, account_identifier: string, status: string) => {
        assert.equal(res.status, 201, res.raw);
        assert.match(res.body.token, INTEGRATION);
        assert.match(res.body.created_at, ISO);
        assert.deepEqual(res.body, {
          token: res.body.token,
          provider,
          account_identifier,
          status,
          last_updated: null,
          workspace_tokens: [workspace],
          created_at: res.body.created_at,
          managed_account_tokens: [],
          enriched_by: [],
        });
      };

      const custom = await checked(app, 'POST', '/v2/integrations/custom_provider', {
        token: msp.token,
        body: { name: 'Custom Provider Integration', description: 'Colo invoices', provider: 'aws', status: 'imported' },
      });
      expected(custom, 'custom_provider', 'Custom Provider Integration', 'connected');
      const gcp = await checked(app, 'POST', '/v2/integrations/gcp', {
        token: msp.token,
        body: { billing_account_id: 'A11111-B22222-C33333', project_id: 'acme-billing', dataset_name: 'billing_export', extra: 1 },
      });
      expected(gcp, 'gcp', 'A11111-B22222-C33333', 'pending');
      const azure = await checked(app, 'POST', '/v2/integrations/azure', {
        token: msp.token,
        body: { tenant: 'fake-tenant', app_id: 'app-1', password: 'azure-password-1' },
      });
      expected(azure, 'azure', 'fake-tenant', 'pending');

      const stored = await db.store.db.selectFrom('integrations').select(['token', 'settings', 'secret']).orderBy('id').execute();
      const byToken = new Map(stored.map((r) => [r.token, r]));
      assert.deepEqual(JSON.parse(byToken.get(custom.body.token)!.settings), { name: 'Custom Provider Integration', description: 'Colo invoices' });
      assert.deepEqual(JSON.parse(byToken.get(gcp.body.token)!.settings), {
        billing_account_id: 'A11111-B22222-C33333',
        project_id: 'acme-billing',
        dataset_name: 'billing_export',
      });
      assert.deepEqual(JSON.parse(byToken.get(azure.body.token)!.settings), { tenant: 'fake-tenant', app_id: 'app-1' });
      assert.equal(byToken.get(custom.body.token)!.secret, null);
      assert.match(byToken.get(azure.body.token)!.secret ?? '', /^v1:/);
      // The fixture's integrations (made as the CLI makes them) feed the default workspace too.
      assert.deepEqual((await checked(app, 'GET', `/v2/integrations/${msp.integrations[0]}`, { token: msp.token })).body.workspace_tokens, [workspace]);
    });

    test('create: missing, null, blank, too long or mistyped fields are 400s naming the field; nothing is written', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const before = await count(db.store, 'integrations');
      const cases: Array<[string, unknown, RegExp]> = [
        ['custom_provider', {}, /^name is required$/],
        ['custom_provider', { name: null }, /^name is required$/],
        ['custom_provider', { name: '   ' }, /^name can't be blank$/],
        ['custom_provider', { name: 'x'.repeat(256) }, /^name is too long \(maximum is 255 characters\)$/],
        ['custom_provider', { name: 'ok', description: 'd'.repeat(1001) }, /^description is too long \(maximum is 1000 characters\)$/],
        ['custom_provider', { name: 5 }, /^name must be a string$/],
        ['gcp', { billing_account_id: 'A11111-B22222-C33333', project_id: 'p' }, /^dataset_name is required$/],
        ['gcp', { billing_account_id: 'A', project_id: 'p', dataset_name: null }, /^dataset_name is required$/],
        ['azure', { tenant: 't', app_id: 'a' }, /^password is required$/],
        ['azure', { tenant: 't', app_id: 'a', password: null }, /^password is required$/],
        ['azure', { tenant: 't', app_id: 'a', password: '' }, /^password can't be blank$/],
        ['azure', { tenant: 't', app_id: 'a', password: 'p'.repeat(1025) }, /^password is too long \(maximum is 1024 characters\)$/],
        ['azure', { tenant: '', app_id: 'a', password: 'secret-in-a-bad-request' }, /^tenant can't be blank$/],
      ];
      for (const [path, body, message] of cases) {
        const res = await checked(app, 'POST', `/v2/integrations/${path}`, { token: msp.token, body });
        assert.equal(res.status, 400, `${path} ${JSON.stringify(body)}: ${res.raw}`);
        assert.equal(res.body.errors.length, 1, res.raw);
        assert.match(res.body.errors[0], message);
        assert.ok(!res.raw.includes('secret-in-a-bad-request') && !res.raw.includes('ppppp'), 'a 400 never echoes the password');
      }
      assert.equal(await count(db.store, 'integrations'), before);
    });

    test('list: only the caller’s own, oldest first, with provider and account_identifier filters and pagination', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const a = await seedMsp(db.store, 'MSP A');
      const b = await seedMsp(db.store, 'MSP B');
      const gcp = await checked(app, 'POST', '/v2/integrations/gcp', {
        token: a.token,
        body: { billing_account_id: '011389-EF4C3E-3ED7AE', project_id: 'p1', dataset_name: 'd1' },
      });
      const gcp2 = await checked(app, 'POST', '/v2/integrations/gcp', {
        token: a.token,
        body: { billing_account_id: 'AAAAAA-BBBBBB-CCCCCC', project_id: 'p2', dataset_name: 'd2' },
      });
      // B has an integration with the same identifier: it never shows up in A's lists.
      await checked(app, 'POST', '/v2/integrations/gcp', { token: b.token, body: { billing_account_id: '011389-EF4C3E-3ED7AE', project_id: 'p', dataset_name: 'd' } });

      const all = await checked(app, 'GET', '/v2/integrations', { token: a.token });
      assert.equal(all.status, 200, all.raw);
      assert.deepEqual(all.body.integrations.map((i: { token: string }) => i.token), [...a.integrations, gcp.body.token, gcp2.body.token]);
      assert.deepEqual(all.body.integrations[2], gcp.body);
      assert.deepEqual(all.body.links, {
        self: 'https://steward.test/v2/integrations',
        first: 'https://steward.test/v2/integrations?page=1',
        next: null,
        last: 'https://steward.test/v2/integrations?page=1',
        prev: null,
      });
      for (const token of b.integrations) assert.ok(!all.raw.includes(token));

      const tokens = async (query: string) => {
        const res = await checked(app, 'GET', `/v2/integrations${query}`, { token: a.token });
        assert.equal(res.status, 200, res.raw);
        return res.body.integrations.map((i: { token: string }) => i.token);
      };
      assert.deepEqual(await tokens('?provider=gcp'), [gcp.body.token, gcp2.body.token]);
      assert.deepEqual(await tokens('?provider=aws'), a.integrations);
      assert.deepEqual(await tokens('?provider=gcp&account_identifier=011389-EF4C3E-3ED7AE'), [gcp.body.token]);
      assert.deepEqual(await tokens('?provider=aws&account_identifier=011389-EF4C3E-3ED7AE'), []);
      assert.deepEqual(await tokens('?provider=aws&account_identifier=111111111111'), [a.integrations[0]]);
      assert.deepEqual(await tokens('?provider=snowflake'), [], 'a contract provider Steward never made: empty');

      const page1 = await checked(app, 'GET', '/v2/integrations?limit=3', { token: a.token });
      assert.equal(page1.body.integrations.length, 3);
      assert.equal(page1.body.links.next, 'https://steward.test/v2/integrations?limit=3&page=2');
      const page2 = await checked(app, 'GET', '/v2/integrations?limit=3&page=2', { token: a.token });
      assert.deepEqual(page2.body.integrations.map((i: { token: string }) => i.token), [gcp2.body.token]);
      assert.equal(page2.body.links.next, null);
      assert.equal(page2.body.links.prev, 'https://steward.test/v2/integrations?limit=3&page=1');
      const filteredPage = await checked(app, 'GET', '/v2/integrations?provider=gcp&limit=1', { token: a.token });
      assert.equal(filteredPage.body.links.next, 'https://steward.test/v2/integrations?provider=gcp&limit=1&page=2');
      assert.deepEqual((await checked(app, 'GET', '/v2/integrations?page=9', { token: a.token })).body.integrations, []);

      const bad: Array<[string, RegExp]> = [
        ['?provider=nope', /^provider must be one of aws, azure, gcp, .*deepgram$/],
        ['?provider=AWS', /^provider must be one of /],
        ['?account_identifier=011389-EF4C3E-3ED7AE', /^account_identifier can only be used together with provider/],
        ['?provider=gcp&account_identifier=', /^account_identifier is too short/],
        ['?limit=0', /^limit must be greater than or equal to 1$/],
        ['?page=abc', /^page must be a whole number/],
      ];
      for (const [query, message] of bad) {
        const res = await checked(app, 'GET', `/v2/integrations${query}`, { token: a.token });
        assert.equal(res.status, 400, `${query}: ${res.raw}`);
        assert.match(res.body.errors[0], message);
      }

      // Integrations are not an MSP feature: a plain account lists (and makes) its own.
      const plain = await nonMspToken(db.store);
      assert.deepEqual((await checked(app, 'GET', '/v2/integrations', { token: plain })).body.integrations, []);
      const own = await checked(app, 'POST', '/v2/integrations/custom_provider', { token: plain, body: { name: 'Mine' } });
      assert.equal(own.status, 201);
      assert.deepEqual((await checked(app, 'GET', '/v2/integrations', { token: plain })).body.integrations, [own.body]);
      assert.equal((await checked(app, 'GET', `/v2/integrations/${own.body.token}`, { token: a.token })).raw, NOT_FOUND);
    });

    test('GET one; unknown, malformed and another account’s integration are the same 404', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const a = await seedMsp(db.store, 'MSP A');
      const b = await seedMsp(db.store, 'MSP B');
      const listed = (await checked(app, 'GET', '/v2/integrations', { token: a.token })).body.integrations[0];
      const one = await checked(app, 'GET', `/v2/integrations/${a.integrations[0]}`, { token: a.token });
      assert.equal(one.status, 200);
      assert.deepEqual(one.body, listed);
      assert.deepEqual(one.body, {
        token: a.integrations[0],
        provider: 'aws',
        account_identifier: '111111111111',
        status: 'pending',
        last_updated: null,
        workspace_tokens: await workspacesOf(db.store, a.accountToken),
        created_at: one.body.created_at,
        managed_account_tokens: [],
        enriched_by: [],
      });
      for (const method of ['GET', 'PUT', 'DELETE'] as const) {
        for (const token of [b.integrations[0], 'accss_crdntl_0000000000000000', 'nope', 'custom_provider']) {
          const res = await checked(app, method, `/v2/integrations/${token}`, { token: a.token, body: method === 'PUT' ? { workspace_tokens: [] } : undefined });
          assert.equal(res.status, 404, `${method} ${token}`);
          assert.equal(res.raw, NOT_FOUND);
        }
      }
      assert.equal((await checked(app, 'GET', `/v2/integrations/${b.integrations[0]}`, { token: b.token })).status, 200, 'B still has it');
    });

    test('PUT replaces workspace_tokens (own workspaces only, oldest first); unknown, foreign, repeated or null: 400 naming it, nothing changes', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const a = await seedMsp(db.store, 'MSP A');
      const b = await seedMsp(db.store, 'MSP B');
      const [main] = (await workspacesOf(db.store, a.accountToken)) as [string];
      const second = await addWorkspace(db.store, a.accountToken, 'Second');
      const [foreign] = (await workspacesOf(db.store, b.accountToken)) as [string];
      const path = `/v2/integrations/${a.integrations[0]}`;
      const before = (await checked(app, 'GET', path, { token: a.token })).body;

      const rejected: Array<[unknown, string]> = [
        [{ workspace_tokens: ['wrkspc_0000000000000000'] }, 'workspace_tokens contains wrkspc_0000000000000000, which is not one of your workspaces'],
        [{ workspace_tokens: [foreign] }, `workspace_tokens contains ${foreign}, which is not one of your workspaces`],
        [{ workspace_tokens: [main, second, main] }, `workspace_tokens lists ${main} more than once`],
        [{ workspace_tokens: ['not-a-token'] }, 'workspace_tokens contains not-a-token, which is not one of your workspaces'],
        [{ workspace_tokens: null }, 'workspace_tokens must be an array of workspace tokens ([] removes all); null is not allowed'],
        [{ workspace_tokens: [7] }, 'workspace_tokens[0] must be a string'],
        [{ workspace_tokens: 'wrkspc_0000000000000000' }, 'workspace_tokens must be an array'],
      ];
      for (const [body, message] of rejected) {
        const res = await checked(app, 'PUT', path, { token: a.token, body });
        assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.raw}`);
        assert.deepEqual(res.body.errors, [message]);
        assert.deepEqual((await checked(app, 'GET', path, { token: a.token })).body, before, 'a rejected PUT changes nothing');
      }

      const unchanged = await checked(app, 'PUT', path, { token: a.token, body: { name: 'ignored', status: 'error' } });
      assert.equal(unchanged.status, 200);
      assert.deepEqual(unchanged.body, before, 'absent workspace_tokens keep the list; unknown keys are ignored');

      const both = await checked(app, 'PUT', path, { token: a.token, body: { workspace_tokens: [second, main] } });
      assert.equal(both.status, 200, both.raw);
      assert.deepEqual(both.body.workspace_tokens, [main, second], 'oldest workspace first');
      assert.match(both.body.last_updated, ISO);
      assert.deepEqual(both.body, { ...before, workspace_tokens: [main, second], last_updated: both.body.last_updated });
      assert.deepEqual((await checked(app, 'GET', path, { token: a.token })).body, both.body);

      const none = await checked(app, 'PUT', path, { token: a.token, body: { workspace_tokens: [] } });
      assert.deepEqual(none.body.workspace_tokens, []);
      const onlySecond = await checked(app, 'PUT', path, { token: a.token, body: { workspace_tokens: [second] } });
      assert.deepEqual(onlySecond.body.workspace_tokens, [second]);
      assert.deepEqual((await checked(app, 'GET', `/v2/integrations/${a.integrations[1]}`, { token: a.token })).body.workspace_tokens, [main], 'other integrations untouched');
      // A foreign token reads exactly like an unknown one (A5).
      const withForeign = await call(app, 'PUT', path, { token: a.token, body: { workspace_tokens: [foreign] } });
      const withUnknown = await call(app, 'PUT', path, { token: a.token, body: { workspace_tokens: ['wrkspc_0000000000000000'] } });
      assert.equal(withForeign.raw.replace(foreign, '<t>'), withUnknown.raw.replace('wrkspc_0000000000000000', '<t>'));
    });

    test('managed_account_tokens follows delegation; DELETE is 204, removes the delegations and workspace links, then 404', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const [a1, a2] = msp.integrations as [string, string];
      const create = async (name: string, tokens: string[]) => {
        const res = await checked(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name, contact_email: uniqueEmail(), access_credential_tokens: tokens } });
        assert.equal(res.status, 201, res.raw);
        return res.body.token as string;
      };
      const m1 = await create('One', [a1]);
      const m2 = await create('Two', [a1, a2]);
      const delegates = async (token: string) => (await checked(app, 'GET', `/v2/integrations/${token}`, { token: msp.token })).body.managed_account_tokens;
      assert.deepEqual(await delegates(a1), [m1, m2]);
      assert.deepEqual(await delegates(a2), [m2]);
      await call(app, 'PUT', `/v2/managed_accounts/${m1}`, { token: msp.token, body: { access_credential_tokens: [a2] } });
      assert.deepEqual(await delegates(a1), [m2]);
      assert.deepEqual(await delegates(a2), [m2, m1]);
      assert.equal((await call(app, 'DELETE', `/v2/managed_accounts/${m2}`, { token: msp.token })).status, 204);
      assert.deepEqual(await delegates(a1), []);
      assert.deepEqual(await delegates(a2), [m1]);

      const links = await count(db.store, 'integration_workspaces');
      const delegations = await count(db.store, 'managed_account_integrations');
      const deleted = await checked(app, 'DELETE', `/v2/integrations/${a2}`, { token: msp.token, body: {} });
      assert.equal(deleted.status, 204);
      assert.equal(deleted.raw, '');
      assert.equal(await count(db.store, 'integration_workspaces'), links - 1);
      assert.equal(await count(db.store, 'managed_account_integrations'), delegations - 1);
      const m1After = await checked(app, 'GET', `/v2/managed_accounts/${m1}`, { token: msp.token });
      assert.deepEqual(m1After.body.access_credential_tokens, []);
      assert.equal((await checked(app, 'GET', `/v2/integrations/${a2}`, { token: msp.token })).raw, NOT_FOUND);
      assert.equal((await checked(app, 'DELETE', `/v2/integrations/${a2}`, { token: msp.token })).raw, NOT_FOUND);
      const rest = await checked(app, 'GET', '/v2/integrations', { token: msp.token });
      assert.deepEqual(rest.body.integrations.map((i: { token: string }) => i.token), [a1]);
      // Naming the deleted integration in a delegation is now the unknown-token 400 (M4).
      const stale = await call(app, 'PUT', `/v2/managed_accounts/${m1}`, { token: msp.token, body: { access_credential_tokens: [a2] } });
      assert.equal(stale.status, 400);
      assert.match(stale.raw, new RegExp(a2));
    });

    test('delegation scoping: GET/PUT only for a delegated credential; only azure_csp takes identifiers; re-sending delegations keeps them', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const a = await seedMsp(db.store, 'MSP A');
      const b = await seedMsp(db.store, 'MSP B');
      const owner = await requireAccount(db.store.db, a.accountToken);
      const csp = (await createIntegration(db.store.db, owner.id, CLI_ACTOR, { provider: 'azure_csp', account_identifier: 'csp-partner-1' })).token;
      const [aws1, aws2] = a.integrations as [string, string];
      const made = await call(app, 'POST', '/v2/managed_accounts', { token: a.token, body: { name: 'M', contact_email: uniqueEmail(), access_credential_tokens: [aws1, csp] } });
      assert.equal(made.status, 201, made.raw);
      const m = made.body.token as string;
      const bm = (await call(app, 'POST', '/v2/managed_accounts', { token: b.token, body: { name: 'BM', contact_email: uniqueEmail(), access_credential_tokens: [b.integrations[0]] } })).body.token;
      const path = (account: string, credential: string) => `/v2/managed_accounts/${account}/integrations/${credential}`;

      const got = await checked(app, 'GET', path(m, csp), { token: a.token });
      assert.equal(got.status, 200, got.raw);
      assert.deepEqual(got.body, { access_credential_token: csp, provider: 'azure_csp', provider_account_identifiers: [] });
      assert.deepEqual((await checked(app, 'GET', path(m, aws1), { token: a.token })).body, { access_credential_token: aws1, provider: 'aws', provider_account_identifiers: [] });

      const scoped = await checked(app, 'PUT', path(m, csp), { token: a.token, body: { provider_account_identifiers: [SUB_2, SUB_1], extra: true } });
      assert.equal(scoped.status, 200, scoped.raw);
      assert.deepEqual(scoped.body, { access_credential_token: csp, provider: 'azure_csp', provider_account_identifiers: [SUB_2, SUB_1] });
      assert.deepEqual((await checked(app, 'GET', path(m, csp), { token: a.token })).body, scoped.body);

      const rejected: Array<[string, unknown, string]> = [
        [aws1, { provider_account_identifiers: [SUB_1] }, 'provider_account_identifiers must be [] for an aws integration: only azure_csp delegations can be limited to some provider accounts'],
        [csp, { provider_account_identifiers: ['not-a-guid'] }, 'provider_account_identifiers[0] must be an Azure subscription id (a GUID such as 8c1f7a0e-1f2b-4c2b-9f3d-5a6b7c8d9e01)'],
        [csp, { provider_account_identifiers: [SUB_1, SUB_1.toUpperCase()] }, `provider_account_identifiers lists ${SUB_1.toUpperCase()} more than once`],
        [csp, {}, 'provider_account_identifiers is required'],
        [csp, { provider_account_identifiers: null }, 'provider_account_identifiers must be an array'],
        [csp, { provider_account_identifiers: [1] }, 'provider_account_identifiers[0] must be a string'],
      ];
      for (const [credential, body, message] of rejected) {
        const res = await checked(app, 'PUT', path(m, credential), { token: a.token, body });
        assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.raw}`);
        assert.deepEqual(res.body.errors, [message]);
      }
      assert.deepEqual((await checked(app, 'GET', path(m, csp), { token: a.token })).body, scoped.body, 'rejected PUTs change nothing');
      assert.deepEqual((await checked(app, 'PUT', path(m, aws1), { token: a.token, body: { provider_account_identifiers: [] } })).body.provider_account_identifiers, []);

      // Re-sending the same delegations (in another order, plus one more) keeps the scoping.
      const resent = await call(app, 'PUT', `/v2/managed_accounts/${m}`, { token: a.token, body: { access_credential_tokens: [csp, aws1, aws2] } });
      assert.equal(resent.status, 200, resent.raw);
      assert.deepEqual((await checked(app, 'GET', path(m, csp), { token: a.token })).body, scoped.body);

      // Same 404, byte for byte: unknown/foreign/undelegated/malformed account or credential.
      const notDelegatedAccount = (await call(app, 'POST', '/v2/managed_accounts', { token: a.token, body: { name: 'N', contact_email: uniqueEmail() } })).body.token;
      const misses: Array<[string, string]> = [
        [m, 'accss_crdntl_0000000000000000'],
        ['acct_0000000000000000', csp],
        [notDelegatedAccount, csp],
        [bm, b.integrations[0] as string],
        [m, b.integrations[0] as string],
        [bm, csp],
        ['nope', csp],
        [m, 'nope'],
        [a.accountToken, csp],
      ];
      for (const [account, credential] of misses) {
        for (const [method, body] of [['GET', undefined], ['PUT', { provider_account_identifiers: [] }], ['PUT', { provider_account_identifiers: [SUB_1] }]] as const) {
          const res = await checked(app, method, path(account, credential), { token: a.token, body });
          assert.equal(res.status, 404, `${method} ${account}/${credential}: ${res.raw}`);
          assert.equal(res.raw, NOT_FOUND);
        }
      }
      // B's own delegation is B's: A cannot see it, B can.
      assert.equal((await checked(app, 'GET', path(bm, b.integrations[0] as string), { token: b.token })).status, 200);

      // Removing the delegation removes its scoping; delegating again starts unscoped.
      await call(app, 'PUT', `/v2/managed_accounts/${m}`, { token: a.token, body: { access_credential_tokens: [aws1] } });
      assert.equal((await checked(app, 'GET', path(m, csp), { token: a.token })).raw, NOT_FOUND);
      await call(app, 'PUT', `/v2/managed_accounts/${m}`, { token: a.token, body: { access_credential_tokens: [aws1, csp] } });
      assert.deepEqual((await checked(app, 'GET', path(m, csp), { token: a.token })).body.provider_account_identifiers, []);
      // Deleting the integration ends its delegations: the scoping route is a 404 again.
      assert.equal((await call(app, 'DELETE', `/v2/integrations/${csp}`, { token: a.token })).status, 204);
      assert.equal((await checked(app, 'GET', path(m, csp), { token: a.token })).raw, NOT_FOUND);
      // Not an MSP: Vantage's 403, before anything else.
      const plain = await nonMspToken(db.store);
      const forbidden = await checked(app, 'GET', path(m, aws1), { token: plain });
      assert.equal(forbidden.status, 403);
    });

    test('the Azure password is unreadable in the database, round-trips only with the configured key, and is never returned', async (t) => {
      const { app, db, config } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const password = `Pa55-${randomBytes(12).toString('hex')}-zebra`;
      const created = await checked(app, 'POST', '/v2/integrations/azure', { token: msp.token, body: { tenant: 'contoso.onmicrosoft.com', app_id: 'app-42', password } });
      assert.equal(created.status, 201, created.raw);
      const token = created.body.token as string;
      const responses = [
        created,
        await checked(app, 'GET', `/v2/integrations/${token}`, { token: msp.token }),
        await checked(app, 'GET', '/v2/integrations?provider=azure', { token: msp.token }),
        await checked(app, 'PUT', `/v2/integrations/${token}`, { token: msp.token, body: { workspace_tokens: [] } }),
      ];
      const forms = [
        password,
        Buffer.from(password).toString('base64'),
        Buffer.from(password).toString('base64url'),
        Buffer.from(password).toString('hex'),
        Buffer.from(password, 'utf16le').toString('latin1'),
      ];
      for (const res of responses) for (const form of forms) assert.ok(!res.raw.includes(form), `a response contains the password: ${res.raw}`);

      const row = await db.store.db.selectFrom('integrations').select(['secret', 'settings']).where('token', '=', token).executeTakeFirstOrThrow();
      const sealed = row.secret as string;
      assert.match(sealed, /^v1:[A-Za-z0-9_-]+$/);
      if (dialect.name === 'sqlite') {
        // The bytes on disk: the main file and the write-ahead log, where fresh writes live.
        let checkedFiles = 0;
        for (const file of [db.url, `${db.url}-wal`]) {
          if (!existsSync(file)) continue;
          const bytes = readFileSync(file);
          checkedFiles += 1;
          for (const form of forms) assert.equal(bytes.indexOf(Buffer.from(form)), -1, `${file} contains the password`);
          if (file.endsWith('-wal')) assert.notEqual(bytes.indexOf(Buffer.from(sealed)), -1, 'the ciphertext is what reached the log');
        }
        assert.ok(checkedFiles >= 1);
      } else {
        const raw = await sql<{ row: string }>`select i::text as row from integrations i where token = ${token}`.execute(db.store.db);
        const text = raw.rows[0]?.row ?? '';
        assert.ok(text.includes(sealed));
        for (const form of forms) assert.ok(!text.includes(form), 'the row contains the password');
      }
      for (const form of forms) assert.ok(!row.settings.includes(form));

      // Round trip with the configured key; a wrong key, or the ciphertext moved to another integration, does not open.
      const key = parseEncryptionKey(config.encryptionKey as string) as Buffer;
      assert.equal(new SecretBox(key).open(secretPurpose(token), sealed), password);
      assert.throws(() => new SecretBox(randomBytes(32)).open(secretPurpose(token), sealed));
      assert.throws(() => new SecretBox(key).open(secretPurpose(msp.integrations[0] as string), sealed));
    });
  });
}
