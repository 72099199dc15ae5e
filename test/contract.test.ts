import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { call, DIALECTS, seedMsp, testApp, uniqueEmail, type Response } from './helpers/app.ts';
import { CONTRACT_PATH, contractMissing, contractOperation, contractViolations } from './helpers/contract.ts';

if (contractMissing) console.log(`# SKIPPED: ${contractMissing}`);

for (const dialect of DIALECTS) {
  describe(`responses validate against ${CONTRACT_PATH.split('/').slice(-2).join('/')} [${dialect.name}]`, { skip: dialect.skip ?? contractMissing }, () => {
    test('every managed-account endpoint, success and error responses', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      let checked = 0;
      const checkedCall = async (...args: Parameters<typeof call>): Promise<Response> => {
        const res = await call(...args);
        const [, method, url] = args;
        assert.deepEqual(contractViolations(method, url, res.status, res.body), [], `${method} ${url} → ${res.status} ${res.raw}`);
        checked += 1;
        return res;
      };

      const full = { name: 'Acme', contact_email: uniqueEmail(), access_credential_tokens: msp.integrations, billing_rule_tokens: msp.rules, email_domain: 'acme.example.com' };
      const created = await checkedCall(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: full });
      assert.equal(created.status, 201);
      const minimal = await checkedCall(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: 'Min', contact_email: uniqueEmail() } });
      assert.equal(minimal.status, 201);
      assert.equal((await checkedCall(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: '' } })).status, 400);
      const path = `/v2/managed_accounts/${created.body.token}`;
      assert.equal((await checkedCall(app, 'GET', '/v2/managed_accounts', { token: msp.token })).status, 200);
      assert.equal((await checkedCall(app, 'GET', '/v2/managed_accounts?limit=1&page=2', { token: msp.token })).status, 200);
      assert.equal((await checkedCall(app, 'GET', '/v2/managed_accounts?page=9', { token: msp.token })).status, 200);
      assert.equal((await checkedCall(app, 'GET', path, { token: msp.token })).status, 200);
      assert.equal((await checkedCall(app, 'GET', '/v2/managed_accounts/acct_0000000000000000', { token: msp.token })).status, 404);
      assert.equal((await checkedCall(app, 'PUT', path, { token: msp.token, body: { name: 'Acme 2', billing_rule_tokens: [] } })).status, 200);
      assert.equal((await checkedCall(app, 'PUT', path, { token: msp.token, body: { contact_email: 'nope' } })).status, 400);
      assert.equal((await checkedCall(app, 'PUT', '/v2/managed_accounts/acct_0000000000000000', { token: msp.token, body: {} })).status, 404);
      assert.equal((await checkedCall(app, 'DELETE', path, { token: msp.token, body: {} })).status, 204);
      assert.equal((await checkedCall(app, 'DELETE', path, { token: msp.token })).status, 404);
      assert.equal(checked, 13);
    });

    test('the served OpenAPI document uses the contract’s operationIds, paths and success statuses', async (t) => {
      const { app } = await testApp(t, dialect.name);
      const served = (await call(app, 'GET', '/v2/oas_v3.json')).body;
      assert.equal(served.openapi, '3.0.3');
      const ops = Object.entries(served.paths as Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>).flatMap(
        ([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })),
      );
      // Every operation Steward serves is one of the contract's, with its operationId and success statuses.
      const served2 = ops.filter((o) => o.path.startsWith('/v2/') && o.path !== '/v2/oas_v3.json');
      for (const { path, method, op } of served2) {
        const concrete = path.replace(/\{\w+\}/g, 'x_0000000000000000');
        const theirs = contractOperation(method, concrete);
        assert.equal(op.operationId, theirs.operationId, `${method} ${path}`);
        const success = (r: Record<string, unknown>) => Object.keys(r).filter((s) => s.startsWith('2'));
        assert.deepEqual(success(op.responses), success(theirs.responses), `${method} ${path} success statuses`);
      }
      assert.deepEqual(
        served2.map((o) => o.op.operationId).sort(),
        [
          'createAzureIntegration', 'createBillingProfile', 'createBillingRule', 'createCustomProviderIntegration', 'createGCPIntegration',
          'createManagedAccount', 'createSsoConnectionForManagedAccount', 'deleteBillingProfile', 'getAuditLog', 'getAuditLogs', 'deleteBillingRule', 'deleteIntegration',
          'deleteManagedAccount', 'deleteSsoConnectionForManagedAccount', 'getBillingProfile', 'getBillingProfiles', 'getBillingRule',
          'getBillingRules', 'getIntegration', 'getIntegrations', 'getManagedAccount', 'getManagedAccountIntegration', 'getManagedAccounts',
          'getMe', 'ping', 'updateBillingProfile', 'updateBillingRule', 'updateIntegration', 'updateManagedAccount',
          'updateManagedAccountIntegration', 'updateSsoConnectionForManagedAccount',
        ].sort(),
      );
    });
  });
}

describe('committed openapi.json', () => {
  test('equals the document the server serves, so every wire change shows up in review', async (t) => {
    const { app } = await testApp(t, 'sqlite');
    const served = (await call(app, 'GET', '/v2/oas_v3.json')).body;
    const committed = JSON.parse(readFileSync(new URL('../openapi.json', import.meta.url), 'utf8'));
    assert.deepEqual(served, committed, 'run `npm run openapi` and commit openapi.json');
  });
});
