import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createAccount, createApiToken } from '../src/domain/accounts.ts';
import type { Store } from '../src/store/database.ts';
import { call, DIALECTS, seedMsp, testApp, uniqueEmail } from './helpers/app.ts';
import { contractMissing, contractViolations } from './helpers/contract.ts';

/** SPEC §7 `GET /v2/me`: the caller's workspaces and the bearer token it used. */

async function workspacesOf(store: Store, accountToken: string) {
  return store.db
    .selectFrom('workspaces as w')
    .innerJoin('accounts as a', 'a.id', 'w.account_id')
    .select(['w.token', 'w.name', 'w.created_at', 'a.created_at as account_created_at'])
    .where('a.token', '=', accountToken)
    .orderBy('w.id')
    .execute();
}

async function me(app: Parameters<typeof call>[0], token: string) {
  const res = await call(app, 'GET', '/v2/me', { token });
  if (!contractMissing) assert.deepEqual(contractViolations('GET', '/v2/me', res.status, res.body), [], res.raw);
  return res;
}

const defaultWorkspace = (token: string, createdAt: string) => ({
  token,
  name: 'Default',
  created_at: createdAt,
  enable_currency_conversion: false,
  currency: 'USD',
  exchange_rate_date: 'daily_rate',
});

for (const dialect of DIALECTS) {
  describe(`GET /v2/me [${dialect.name}]`, { skip: dialect.skip }, () => {
    test("an MSP's token: its default workspace (made with the account) and the token's description, creation time and scopes", async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const account = await createAccount(db.store.db, { name: 'Example MSP', msp: true });
      const rw = await createApiToken(db.store.db, { accountToken: account.token, scopes: 'read,write', description: 'terraform' });
      const ro = await createApiToken(db.store.db, { accountToken: account.token, scopes: 'read', description: 'Grafana (read only) — ünïcode' });
      const [workspace, ...others] = await workspacesOf(db.store, account.token);
      assert.deepEqual(others, [], 'exactly one workspace per new account');
      assert.match(workspace!.token, /^wrkspc_[0-9a-f]{16}$/);
      assert.equal(workspace!.created_at, account.created_at);

      const asRw = await me(app, rw.token);
      assert.equal(asRw.status, 200, asRw.raw);
      assert.deepEqual(asRw.body, {
        default_workspace_token: workspace!.token,
        default_dashboard_token: null,
        workspaces: [defaultWorkspace(workspace!.token, account.created_at)],
        bearer_token: { description: 'terraform', created_at: rw.created_at, scope: ['read', 'write'] },
        is_account_owner: true,
      });
      assert.deepEqual(Object.keys(asRw.body), ['default_workspace_token', 'default_dashboard_token', 'workspaces', 'bearer_token', 'is_account_owner']);
      assert.match(asRw.body.bearer_token.created_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);

      const asRo = await me(app, ro.token);
      assert.equal(asRo.status, 200, asRo.raw);
      assert.deepEqual(asRo.body, { ...asRw.body, bearer_token: { description: 'Grafana (read only) — ünïcode', created_at: ro.created_at, scope: ['read'] } });
    });

    test('a token made without a description reports "" (the contract requires a string); a write-only token is refused', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const bare = await createApiToken(db.store.db, { accountToken: msp.accountToken, scopes: 'write,read' });
      const res = await me(app, bare.token);
      assert.equal(res.status, 200, res.raw);
      assert.deepEqual(res.body.bearer_token, { description: '', created_at: bare.created_at, scope: ['read', 'write'] });
      const writeOnly = await call(app, 'GET', '/v2/me', { token: msp.writeOnly });
      assert.equal(writeOnly.status, 403, writeOnly.raw);
      assert.equal(writeOnly.headers['www-authenticate'], 'Bearer error="insufficient_scope", scope="read"');
      const none = await call(app, 'GET', '/v2/me');
      assert.equal(none.status, 401, none.raw);
    });

    test("accounts that are not MSPs work too, and each sees only its own workspaces: a plain account, a managed account", async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const plain = await createAccount(db.store.db, { name: 'Plain customer', msp: false });
      const plainToken = await createApiToken(db.store.db, { accountToken: plain.token, scopes: 'read' });
      const created = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: 'Globex', contact_email: uniqueEmail() } });
      assert.equal(created.status, 201, created.raw);
      const managedToken = await createApiToken(db.store.db, { accountToken: created.body.token, scopes: 'read,write', description: 'globex ops' });

      const [plainWs] = await workspacesOf(db.store, plain.token);
      const plainMe = await me(app, plainToken.token);
      assert.equal(plainMe.status, 200, plainMe.raw);
      assert.deepEqual(plainMe.body.workspaces, [defaultWorkspace(plainWs!.token, plain.created_at)]);
      assert.equal(plainMe.body.default_workspace_token, plainWs!.token);

      // The managed account got its own default workspace when the MSP created it through the API.
      const managedWs = await workspacesOf(db.store, created.body.token);
      assert.equal(managedWs.length, 1);
      assert.equal(managedWs[0]!.created_at, managedWs[0]!.account_created_at);
      const managedMe = await me(app, managedToken.token);
      assert.equal(managedMe.status, 200, managedMe.raw);
      assert.deepEqual(managedMe.body, {
        default_workspace_token: managedWs[0]!.token,
        default_dashboard_token: null,
        workspaces: [defaultWorkspace(managedWs[0]!.token, managedWs[0]!.account_created_at)],
        bearer_token: { description: 'globex ops', created_at: managedToken.created_at, scope: ['read', 'write'] },
        is_account_owner: true,
      });
      const [mspWs] = await workspacesOf(db.store, msp.accountToken);
      for (const res of [plainMe, managedMe]) {
        assert.ok(!res.raw.includes(mspWs!.token), "another account's workspace leaked");
        assert.ok(!res.raw.includes(msp.accountToken));
      }
    });

    test('several workspaces: all listed oldest first with their settings; the default is the oldest', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const owner = await db.store.db.selectFrom('accounts').select('id').where('token', '=', msp.accountToken).executeTakeFirstOrThrow();
      // Steward has no workspace API yet: these are written as a future one would, the second with the column defaults.
      await db.store.db
        .insertInto('workspaces')
        .values({ token: 'wrkspc_00000000000000ee', account_id: owner.id, name: 'EMEA', enable_currency_conversion: 1, currency: 'EUR', exchange_rate_date: 'end_of_billing_period', created_at: '2030-01-01T00:00:00Z' })
        .execute();
      await db.store.db.insertInto('workspaces').values({ token: 'wrkspc_00000000000000aa', account_id: owner.id, name: 'Staging', created_at: '2030-02-01T00:00:00Z' }).execute();
      const [first] = await workspacesOf(db.store, msp.accountToken);
      const res = await me(app, msp.readOnly);
      assert.equal(res.status, 200, res.raw);
      assert.equal(res.body.default_workspace_token, first!.token);
      assert.deepEqual(res.body.workspaces, [
        defaultWorkspace(first!.token, first!.created_at),
        { token: 'wrkspc_00000000000000ee', name: 'EMEA', created_at: '2030-01-01T00:00:00Z', enable_currency_conversion: true, currency: 'EUR', exchange_rate_date: 'end_of_billing_period' },
        { token: 'wrkspc_00000000000000aa', name: 'Staging', created_at: '2030-02-01T00:00:00Z', enable_currency_conversion: false, currency: 'USD', exchange_rate_date: 'daily_rate' },
      ]);
      assert.deepEqual(res.body.bearer_token.scope, ['read']);
    });
  });
}
