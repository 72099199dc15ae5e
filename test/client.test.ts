import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { APIV2Client, VantageAPIError } from '@vantage-sh/vantage-client';
import { buildApp } from '../src/app.ts';
import { parseConfig } from '../src/config.ts';
import { DIALECTS, freshDatabase, seedMsp } from './helpers/app.ts';
import { contractMissing, contractViolations } from './helpers/contract.ts';

/** Vantage's official TypeScript client against Steward on a real port. */
for (const dialect of DIALECTS) {
  describe(`@vantage-sh/vantage-client [${dialect.name}]`, { skip: dialect.skip }, () => {
    test('managedAccounts.create/list/get/update/delete round-trip; get after delete rejects with 404', async (t) => {
      const db = await freshDatabase(dialect.name);
      const app = await buildApp({ config: parseConfig({ logLevel: 'silent' }), store: db.store });
      t.after(async () => {
        await app.close();
        await db.close();
      });
      const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
      const msp = await seedMsp(db.store);
      const client = new APIV2Client(msp.token, false, baseUrl);
      const conforms = (method: string, path: string, status: number, body: unknown) => {
        if (!contractMissing) assert.deepEqual(contractViolations(method, path, status, body), [], `${method} ${path}`);
      };

      const sent = {
        name: 'Acme Corp',
        contact_email: 'acme-admin@msp-example.com',
        access_credential_tokens: [msp.integrations[0] as string],
        billing_rule_tokens: [msp.rules[1] as string, msp.rules[0] as string],
        email_domain: 'acme.example',
      };
      const created = await client.managedAccounts.create(sent);
      conforms('POST', '/v2/managed_accounts', 201, created);
      assert.match(created.token, /^acct_[0-9a-f]{16}$/);
      assert.deepEqual(created, { ...sent, token: created.token, parent_account_token: msp.accountToken });

      const listed = await client.managedAccounts.list({ page: 1, limit: 10 });
      conforms('GET', '/v2/managed_accounts', 200, listed);
      assert.deepEqual(listed.managed_accounts, [created]);
      assert.equal(listed.links?.next, null);
      assert.equal(new URL(listed.links?.self ?? '').origin, baseUrl);

      const got = await client.managedAccounts.get(created.token);
      conforms('GET', `/v2/managed_accounts/${created.token}`, 200, got);
      assert.deepEqual(got, created);

      const update = { name: 'Acme Corporation', billing_rule_tokens: [msp.rules[0] as string], access_credential_tokens: msp.integrations };
      const updated = await client.managedAccounts.update(created.token, update);
      conforms('PUT', `/v2/managed_accounts/${created.token}`, 200, updated);
      assert.deepEqual(updated, { ...created, ...update });
      assert.deepEqual(await client.managedAccounts.get(created.token), updated);

      const deleted = await client.managedAccounts.delete(created.token);
      assert.equal(deleted, undefined);
      await assert.rejects(client.managedAccounts.get(created.token), (e: unknown) => {
        assert.ok(e instanceof VantageAPIError);
        assert.equal(e.status, 404);
        assert.ok(e.errors && e.errors.length > 0);
        return true;
      });
      await assert.rejects(client.managedAccounts.create({ name: 'No email' } as never), (e: unknown) => {
        assert.ok(e instanceof VantageAPIError);
        assert.equal(e.status, 400);
        assert.deepEqual(e.errors, ['contact_email is required']);
        return true;
      });
      assert.deepEqual((await client.managedAccounts.list({})).managed_accounts, []);
      const readOnly = new APIV2Client(msp.readOnly, false, baseUrl);
      await assert.rejects(readOnly.managedAccounts.create({ name: 'X', contact_email: 'x@example.com' }), (e: unknown) => e instanceof VantageAPIError && e.status === 403);
    });
  });
}
