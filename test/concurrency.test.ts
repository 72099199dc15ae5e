import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createApiToken } from '../src/domain/accounts.ts';
import { createOauthClient } from '../src/domain/oauth.ts';
import { addRule, call, DIALECTS, seedMsp, testApp, uniqueEmail } from './helpers/app.ts';

const count = (statuses: number[]) =>
  statuses.reduce<Record<number, number>>((acc, s) => ({ ...acc, [s]: (acc[s] ?? 0) + 1 }), {});

/** M6, M10 and W7 under concurrent requests (on Postgres these run in parallel on the connection pool). */
for (const dialect of DIALECTS) {
  describe(`concurrent requests [${dialect.name}]`, { skip: dialect.skip }, () => {
    test('concurrent PUTs of lists never interleave: every one succeeds and the result is exactly one of them', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const aws = await addRule(db.store, msp.accountToken, { type: 'custom', title: 'CUR', sql_query: 'UPDATE aws SET x = 1' });
      const fee = await addRule(db.store, msp.accountToken, { type: 'charge', title: 'Fee', service: 'MSP', amount: 1, start_date: '2024-01-01' });
      const monthly = await addRule(db.store, msp.accountToken, { type: 'custom', title: 'Monthly', sql_query: 'INSERT INTO costs (amount) SELECT SUM(amount) FROM costs' });
      const bodies = [
        { billing_rule_tokens: [aws, fee], access_credential_tokens: [msp.integrations[0]] },
        { billing_rule_tokens: [msp.rules[0], monthly], access_credential_tokens: [msp.integrations[1]] },
        { billing_rule_tokens: [aws, fee], access_credential_tokens: [msp.integrations[0]] },
      ];
      for (let round = 0; round < 5; round++) {
        const created = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: `Race ${round}`, contact_email: uniqueEmail() } });
        const path = `/v2/managed_accounts/${created.body.token}`;
        const results = await Promise.all(Array.from({ length: 12 }, (_, i) => call(app, 'PUT', path, { token: msp.token, body: bodies[i % bodies.length] })));
        assert.deepEqual(count(results.map((r) => r.status)), { 200: 12 }, results.map((r) => r.raw).join('\n'));
        const final = (await call(app, 'GET', path, { token: msp.token })).body;
        const matches = bodies.some((b) => JSON.stringify([final.billing_rule_tokens, final.access_credential_tokens]) === JSON.stringify([b.billing_rule_tokens, b.access_credential_tokens]));
        assert.ok(matches, `final state is one of the requests: ${JSON.stringify(final)}`);
      }
    });

    test('delegating an integration while it is deleted: 200/201 or the unknown-token 400, never a 500 or a dangling delegation', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const accounts: string[] = [];
      for (let i = 0; i < 8; i++) accounts.push((await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: `Target ${i}`, contact_email: uniqueEmail() } })).body.token);
      for (let round = 0; round < 12; round++) {
        const made = await call(app, 'POST', '/v2/integrations/custom_provider', { token: msp.token, body: { name: `Doomed ${round}` } });
        assert.equal(made.status, 201, made.raw);
        const doomed = made.body.token as string;
        const writes = [
          ...accounts.map((a) => call(app, 'PUT', `/v2/managed_accounts/${a}`, { token: msp.token, body: { access_credential_tokens: [doomed] } })),
          call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: `New ${round}`, contact_email: uniqueEmail(), access_credential_tokens: [doomed] } }),
        ];
        const [deleted, ...results] = await Promise.all([call(app, 'DELETE', `/v2/integrations/${doomed}`, { token: msp.token }), ...writes]);
        assert.equal(deleted.status, 204, deleted.raw);
        for (const res of results) {
          assert.ok([200, 201, 400].includes(res.status), `${res.status} ${res.raw}`);
          if (res.status === 400) assert.deepEqual(res.body.errors, [`access_credential_tokens contains ${doomed}, which is not one of your integrations`]);
        }
        const list = (await call(app, 'GET', '/v2/managed_accounts?limit=1000', { token: msp.token })).body.managed_accounts;
        for (const account of list) assert.ok(!account.access_credential_tokens.includes(doomed), `${account.token} still lists the deleted integration`);
      }
    });

    test('PUTs racing a DELETE get 200 or 404, never a 500, and the account ends deleted', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      for (let round = 0; round < 5; round++) {
        const created = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: `Doomed ${round}`, contact_email: uniqueEmail() } });
        const path = `/v2/managed_accounts/${created.body.token}`;
        const puts = Array.from({ length: 6 }, (_, i) =>
          call(app, 'PUT', path, { token: msp.token, body: { email_domain: `doomed-${round}-${i}.example.com`, billing_rule_tokens: msp.rules, access_credential_tokens: msp.integrations } }),
        );
        const [deleted, ...updated] = await Promise.all([call(app, 'DELETE', path, { token: msp.token }), ...puts]);
        assert.equal(deleted?.status, 204);
        for (const res of updated) assert.ok(res.status === 200 || res.status === 404, `${res.status} ${res.raw}`);
        assert.equal((await call(app, 'GET', path, { token: msp.token })).status, 404);
      }
      // Nothing of the deleted accounts' domains is left claimed.
      const reuse = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: 'Reuse', contact_email: uniqueEmail(), email_domain: 'doomed-0-0.example.com' } });
      assert.equal(reuse.status, 201, reuse.raw);
    });

    test('50 concurrent creates sharing a contact_email (or an email_domain): one 201, 49 × 400, one account', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const sameEmail = await Promise.all(
        Array.from({ length: 50 }, (_, i) => call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: `Dup ${i}`, contact_email: i % 2 ? 'Dup@Example.com' : 'dup@example.com' } })),
      );
      assert.deepEqual(count(sameEmail.map((r) => r.status)), { 201: 1, 400: 49 });
      for (const r of sameEmail.filter((r) => r.status === 400)) assert.deepEqual(r.body, { errors: ['contact_email has already been taken by another account'] });
      const sameDomain = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: `Dom ${i}`, contact_email: uniqueEmail(), email_domain: i % 2 ? 'Shared.Example.com' : 'shared.example.com' } }),
        ),
      );
      assert.deepEqual(count(sameDomain.map((r) => r.status)), { 201: 1, 400: 49 });
      const list = (await call(app, 'GET', '/v2/managed_accounts?limit=1000', { token: msp.token })).body.managed_accounts;
      assert.equal(list.length, 2);
    });

    test('a managed account deleted while its own token or OAuth client is in use: 401 or 409, never a 500', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const seen: number[] = [];
      for (let round = 0; round < 4; round++) {
        const child = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: `Doomed ${round}`, contact_email: uniqueEmail() } });
        const childToken = (await createApiToken(db.store.db, { accountToken: child.body.token, scopes: 'read,write' })).token;
        const client = await createOauthClient(db.store.db, { accountToken: child.body.token, scopes: 'read' });
        const basic = `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`;
        const creates = Array.from({ length: 15 }, (_, i) =>
          call(app, 'POST', '/v2/integrations/custom_provider', { token: childToken, body: { name: `Provider ${round}-${i}` } }),
        );
        const grants = Array.from({ length: 15 }, () =>
          call(app, 'POST', '/oauth/token', { body: 'grant_type=client_credentials', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic } }),
        );
        const deleted = call(app, 'DELETE', `/v2/managed_accounts/${child.body.token}`, { token: msp.token });
        const results = await Promise.all([...creates, ...grants, deleted]);
        assert.equal(results.at(-1)!.status, 204);
        for (const res of results) {
          assert.ok([200, 201, 204, 401, 409].includes(res.status), `${res.status} ${res.raw}`);
          seen.push(res.status);
        }
      }
      console.log(`statuses while accounts were deleted under their own requests: ${JSON.stringify(count(seen))}`);
    });
  });
}
