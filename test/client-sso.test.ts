import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { APIV2Client, VantageAPIError } from '@vantage-sh/vantage-client';
import { DIALECTS, listeningApp, seedMsp } from './helpers/app.ts';
import { contractMissing, contractViolations } from './helpers/contract.ts';

/** Vantage's official TypeScript client: the managed-account SSO methods and `me`, against Steward on a real port. */
for (const dialect of DIALECTS) {
  describe(`@vantage-sh/vantage-client SSO and me [${dialect.name}]`, { skip: dialect.skip }, () => {
    test('createSsoConnectionForManagedAccount / update… / delete… and me.get round-trip, each validating against the contract', async (t) => {
      const { db, baseUrl } = await listeningApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const client = new APIV2Client(msp.token, false, baseUrl);
      const conforms = (method: string, path: string, status: number, body: unknown) => {
        if (!contractMissing) assert.deepEqual(contractViolations(method, path, status, body), [], `${method} ${path}`);
      };
      const connection = async (accountToken: string) => {
        const row = await db.store.db
          .selectFrom('sso_connections as s')
          .innerJoin('accounts as a', 'a.id', 's.account_id')
          .select(['s.type', 's.saml_metadata_url', 's.additional_domains'])
          .where('a.token', '=', accountToken)
          .executeTakeFirst();
        return row && { ...row, additional_domains: JSON.parse(row.additional_domains) };
      };

      const account = await client.managedAccounts.create({ name: 'Acme Corp', contact_email: 'acme-admin@msp-example.com', email_domain: 'acme.example' });
      conforms('POST', '/v2/managed_accounts', 201, account);
      const path = `/v2/managed_accounts/${account.token}/sso_connection`;

      const sent = { type: 'saml' as const, saml_metadata_url: 'https://idp.acme.example/metadata.xml', additional_domains: ['acme-corp.example'] };
      const created = await client.managedAccounts.createSsoConnectionForManagedAccount(account.token, sent);
      conforms('POST', path, 201, created);
      assert.deepEqual(created, account);
      assert.deepEqual(await connection(account.token), sent);

      const update = { saml_metadata_url: 'https://idp.acme.example/v2/metadata.xml', additional_domains: ['acme-corp.example', 'acme-group.example'] };
      const updated = await client.managedAccounts.updateSsoConnectionForManagedAccount(account.token, update);
      conforms('PUT', path, 200, updated);
      assert.deepEqual(updated, account);
      assert.deepEqual(await connection(account.token), { type: 'saml', ...update });

      const deleted = await client.managedAccounts.deleteSsoConnectionForManagedAccount(account.token);
      assert.equal(deleted, undefined);
      assert.equal(await connection(account.token), undefined);
      assert.deepEqual(await client.managedAccounts.get(account.token), account);

      await assert.rejects(client.managedAccounts.updateSsoConnectionForManagedAccount(account.token, update), (e: unknown) => {
        assert.ok(e instanceof VantageAPIError);
        assert.equal(e.status, 400);
        conforms('PUT', path, 400, JSON.parse(e.body ?? ''));
        assert.deepEqual(e.errors, ['sso_connection does not exist for this managed account; create it with POST first']);
        return true;
      });
      await assert.rejects(client.managedAccounts.deleteSsoConnectionForManagedAccount('acct_0000000000000000'), (e: unknown) => {
        assert.ok(e instanceof VantageAPIError);
        assert.equal(e.status, 404);
        conforms('DELETE', '/v2/managed_accounts/acct_0000000000000000/sso_connection', 404, JSON.parse(e.body ?? ''));
        return true;
      });

      const me = await client.me.get();
      conforms('GET', '/v2/me', 200, me);
      const [workspace] = await db.store.db
        .selectFrom('workspaces as w')
        .innerJoin('accounts as a', 'a.id', 'w.account_id')
        .select(['w.token', 'w.created_at'])
        .where('a.token', '=', msp.accountToken)
        .execute();
      const token = await db.store.db.selectFrom('api_tokens').select(['created_at']).where('description', '=', 'read,write').executeTakeFirstOrThrow();
      assert.deepEqual(me, {
        default_workspace_token: workspace!.token,
        default_dashboard_token: null,
        workspaces: [{ token: workspace!.token, name: 'Default', created_at: workspace!.created_at, enable_currency_conversion: false, currency: 'USD', exchange_rate_date: 'daily_rate' }],
        bearer_token: { description: 'read,write', created_at: token.created_at, scope: ['read', 'write'] },
        is_account_owner: true,
      });
    });
  });
}
