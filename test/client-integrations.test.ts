import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { APIV2Client, VantageAPIError } from '@vantage-sh/vantage-client';
import { requireAccount } from '../src/domain/accounts.ts';
import { CLI_ACTOR } from '../src/domain/audit.ts';
import { createIntegration } from '../src/domain/integrations.ts';
import { DIALECTS, listeningApp, seedMsp, uniqueEmail } from './helpers/app.ts';
import { contractMissing, contractViolations } from './helpers/contract.ts';

/**
 * contractPath() resolves /integrations/gcp to /integrations/{integration_token}; the create operations return the
 * same Integration schema, so their bodies are checked against it through GET.
 */
const SOME_INTEGRATION = '/v2/integrations/accss_crdntl_0000000000000000';

/** The client has no methods for the delegated-integration sub-resource (it predates it): its own request() is used. */
type Requester = { request(path: string, method: string, body?: unknown): Promise<unknown> };

/** Vantage's official TypeScript client drives the integration endpoints against Steward on a real port. */
for (const dialect of DIALECTS) {
  describe(`@vantage-sh/vantage-client integrations [${dialect.name}]`, { skip: dialect.skip }, () => {
    test('integrations create/list/get/update/delete and the delegation scoping round-trip', async (t) => {
      const { db, baseUrl } = await listeningApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const client = new APIV2Client(msp.token, false, baseUrl);
      const conforms = (method: string, path: string, status: number, body: unknown) => {
        if (!contractMissing) assert.deepEqual(contractViolations(method, path, status, body), [], `${method} ${path}`);
      };
      const workspace = (await db.store.db.selectFrom('workspaces').select('token').orderBy('id').limit(1).executeTakeFirstOrThrow()).token;
      const integration = (provider: string, account_identifier: string, token: string, created_at: string, status = 'pending') => ({
        token,
        provider,
        account_identifier,
        status,
        last_updated: null,
        workspace_tokens: [workspace],
        created_at,
        managed_account_tokens: [],
        enriched_by: [],
      });

      const custom = await client.integrations.createCustomProviderIntegration({ name: 'Colo Provider', description: 'Rack space' });
      conforms('GET', SOME_INTEGRATION, 200, custom);
      assert.deepEqual(custom, integration('custom_provider', 'Colo Provider', custom.token, custom.created_at, 'connected'));

      const gcp = await client.integrations.createGCPIntegration({ billing_account_id: '011389-EF4C3E-3ED7AE', project_id: 'acme-billing', dataset_name: 'billing_export' });
      conforms('GET', SOME_INTEGRATION, 200, gcp);
      assert.deepEqual(gcp, integration('gcp', '011389-EF4C3E-3ED7AE', gcp.token, gcp.created_at));

      const azure = await client.integrations.createAzureIntegration({ tenant: 'contoso.onmicrosoft.com', app_id: 'app-7', password: 'client-password-7' });
      conforms('GET', SOME_INTEGRATION, 200, azure);
      assert.deepEqual(azure, integration('azure', 'contoso.onmicrosoft.com', azure.token, azure.created_at));
      assert.ok(!JSON.stringify(azure).includes('client-password-7'));

      const listed = await client.integrations.list({ page: 1, limit: 10 });
      conforms('GET', '/v2/integrations', 200, listed);
      assert.deepEqual(listed.integrations.map((i) => i.token), [...msp.integrations, custom.token, gcp.token, azure.token]);
      assert.deepEqual(listed.integrations.slice(2), [custom, gcp, azure]);
      assert.equal(listed.links?.next, null);
      assert.equal(new URL(listed.links?.self ?? '').origin, baseUrl);

      const onlyGcp = await client.integrations.list({ provider: 'gcp', account_identifier: '011389-EF4C3E-3ED7AE' });
      conforms('GET', '/v2/integrations', 200, onlyGcp);
      assert.deepEqual(onlyGcp.integrations, [gcp]);

      const got = await client.integrations.get(azure.token);
      conforms('GET', `/v2/integrations/${azure.token}`, 200, got);
      assert.deepEqual(got, azure);

      const updated = await client.integrations.update(gcp.token, { workspace_tokens: [] });
      conforms('PUT', `/v2/integrations/${gcp.token}`, 200, updated);
      assert.deepEqual(updated.workspace_tokens, []);
      assert.deepEqual({ ...updated, last_updated: null }, { ...gcp, workspace_tokens: [] });
      const restored = await client.integrations.update(gcp.token, { workspace_tokens: [workspace] });
      assert.deepEqual(restored.workspace_tokens, [workspace]);
      assert.deepEqual(await client.integrations.get(gcp.token), restored);

      // Delegate a CSP credential and the custom provider to a managed account, then scope the CSP delegation.
      const owner = await requireAccount(db.store.db, msp.accountToken);
      const csp = await createIntegration(db.store.db, owner.id, CLI_ACTOR, { provider: 'azure_csp', account_identifier: 'csp-partner' });
      const account = await client.managedAccounts.create({ name: 'Scoped Co', contact_email: uniqueEmail(), access_credential_tokens: [csp.token, custom.token] });
      assert.deepEqual(account.access_credential_tokens, [csp.token, custom.token]);
      assert.deepEqual((await client.integrations.get(custom.token)).managed_account_tokens, [account.token]);

      const requester = client as unknown as Requester;
      const scopePath = `/v2/managed_accounts/${account.token}/integrations/${csp.token}`;
      const before = await requester.request(scopePath, 'GET', {});
      conforms('GET', scopePath, 200, before);
      assert.deepEqual(before, { access_credential_token: csp.token, provider: 'azure_csp', provider_account_identifiers: [] });
      const sent = { provider_account_identifiers: ['3fa85f64-5717-4562-b3fc-2c963f66afa6', '8c1f7a0e-1f2b-4c2b-9f3d-5a6b7c8d9e01'] };
      const scoped = await requester.request(scopePath, 'PUT', sent);
      conforms('PUT', scopePath, 200, scoped);
      assert.deepEqual(scoped, { access_credential_token: csp.token, provider: 'azure_csp', ...sent });
      assert.deepEqual(await requester.request(scopePath, 'GET', {}), scoped);

      // Delete: 204 (undefined from the client), the managed account loses it, and get rejects with 404.
      assert.equal(await client.integrations.delete(custom.token), undefined);
      assert.deepEqual((await client.managedAccounts.get(account.token)).access_credential_tokens, [csp.token]);
      await assert.rejects(client.integrations.get(custom.token), (e: unknown) => {
        assert.ok(e instanceof VantageAPIError);
        assert.equal(e.status, 404);
        assert.deepEqual(e.errors, ['Integration not found']);
        return true;
      });
      await assert.rejects(client.integrations.createAzureIntegration({ tenant: 't', app_id: 'a' } as never), (e: unknown) => {
        assert.ok(e instanceof VantageAPIError);
        assert.equal(e.status, 400);
        assert.deepEqual(e.errors, ['password is required']);
        return true;
      });
      await assert.rejects(client.integrations.update(gcp.token, { workspace_tokens: ['wrkspc_0000000000000000'] }), (e: unknown) => {
        assert.ok(e instanceof VantageAPIError);
        assert.equal(e.status, 400);
        assert.deepEqual(e.errors, ['workspace_tokens contains wrkspc_0000000000000000, which is not one of your workspaces']);
        return true;
      });
      const readOnly = new APIV2Client(msp.readOnly, false, baseUrl);
      await assert.rejects(readOnly.integrations.createCustomProviderIntegration({ name: 'X' }), (e: unknown) => e instanceof VantageAPIError && e.status === 403);
      assert.equal((await readOnly.integrations.list({})).integrations.length, 5);
    });
  });
}
