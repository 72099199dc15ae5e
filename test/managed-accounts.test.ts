import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { addRule, call, DIALECTS, seedMsp, testApp, uniqueEmail } from './helpers/app.ts';

const ACCT = /^acct_[0-9a-f]{16}$/;

for (const dialect of DIALECTS) {
  describe(`managed accounts [${dialect.name}]`, { skip: dialect.skip }, () => {
    test("Vantage's documented create request returns 201 with exactly the ManagedAccount shape", async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const body = {
        name: 'Acme Corp',
        contact_email: 'acme-admin@msp-example.com',
        access_credential_tokens: [msp.integrations[0]],
        billing_rule_tokens: [msp.rules[0]],
        email_domain: 'acme.example',
      };
      const res = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body });
      assert.equal(res.status, 201);
      assert.match(res.body.token, ACCT);
      assert.deepEqual(res.body, {
        token: res.body.token,
        name: 'Acme Corp',
        contact_email: 'acme-admin@msp-example.com',
        parent_account_token: msp.accountToken,
        access_credential_tokens: [msp.integrations[0]],
        billing_rule_tokens: [msp.rules[0]],
        email_domain: 'acme.example',
      });
      assert.match(String(res.headers['content-type']), /^application\/json/);

      const minimal = await call(app, 'POST', '/v2/managed_accounts', {
        token: msp.token,
        body: { name: 'Bare', contact_email: uniqueEmail(), access_credential_tokens: null, billing_rule_tokens: null },
      });
      assert.equal(minimal.status, 201, minimal.raw);
      assert.equal(minimal.body.email_domain, null);
      assert.deepEqual(minimal.body.access_credential_tokens, []);
      assert.deepEqual(minimal.body.billing_rule_tokens, []);
    });

    test('GET returns what was created; PUT is partial; DELETE is 204 with an empty body, then 404', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const created = await call(app, 'POST', '/v2/managed_accounts', {
        token: msp.token,
        body: { name: 'Initech', contact_email: 'initech-admin@example.com', billing_rule_tokens: msp.rules, access_credential_tokens: msp.integrations },
      });
      const path = `/v2/managed_accounts/${created.body.token}`;
      assert.deepEqual((await call(app, 'GET', path, { token: msp.token })).body, created.body);

      const renamed = await call(app, 'PUT', path, { token: msp.token, body: { name: 'Initech LLC' } });
      assert.equal(renamed.status, 200);
      assert.deepEqual(renamed.body, { ...created.body, name: 'Initech LLC' });

      const moved = await call(app, 'PUT', path, {
        token: msp.token,
        body: { contact_email: 'ops@initech.example', email_domain: 'initech.example', billing_rule_tokens: [msp.rules[1]], access_credential_tokens: [msp.integrations[1]] },
      });
      assert.equal(moved.status, 200, moved.raw);
      assert.deepEqual(moved.body, {
        ...created.body,
        name: 'Initech LLC',
        contact_email: 'ops@initech.example',
        email_domain: 'initech.example',
        billing_rule_tokens: [msp.rules[1]],
        access_credential_tokens: [msp.integrations[1]],
      });
      assert.deepEqual((await call(app, 'GET', path, { token: msp.token })).body, moved.body);

      const deleted = await call(app, 'DELETE', path, { token: msp.token, body: {} });
      assert.equal(deleted.status, 204);
      assert.equal(deleted.raw, '');
      const gone = await call(app, 'GET', path, { token: msp.token });
      assert.equal(gone.status, 404);
      assert.ok(gone.body.errors.length > 0);
      assert.equal((await call(app, 'DELETE', path, { token: msp.token })).status, 404);
      // The freed email and domain can be used again.
      const again = await call(app, 'POST', '/v2/managed_accounts', {
        token: msp.token,
        body: { name: 'Initech again', contact_email: 'OPS@initech.example', email_domain: 'INITECH.example' },
      });
      assert.equal(again.status, 201, again.raw);
    });

    test('contact_email and email_domain are unique across all accounts, case-insensitively', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const a = await seedMsp(db.store, 'MSP A');
      const b = await seedMsp(db.store, 'MSP B');
      const first = await call(app, 'POST', '/v2/managed_accounts', {
        token: a.token,
        body: { name: 'One', contact_email: 'Shared@Example.com', email_domain: 'one.example.com' },
      });
      assert.equal(first.status, 201);
      const sameEmail = await call(app, 'POST', '/v2/managed_accounts', { token: b.token, body: { name: 'Two', contact_email: 'shared@example.COM' } });
      assert.equal(sameEmail.status, 400);
      assert.match(sameEmail.body.errors.join(' '), /contact_email/);
      const sameDomain = await call(app, 'POST', '/v2/managed_accounts', {
        token: b.token,
        body: { name: 'Three', contact_email: uniqueEmail(), email_domain: 'ONE.example.com' },
      });
      assert.equal(sameDomain.status, 400);
      assert.match(sameDomain.body.errors.join(' '), /email_domain/);
      // A rejected update leaves the account as it was.
      const second = await call(app, 'POST', '/v2/managed_accounts', { token: a.token, body: { name: 'Two', contact_email: uniqueEmail() } });
      const clash = await call(app, 'PUT', `/v2/managed_accounts/${second.body.token}`, {
        token: a.token,
        body: { name: 'Renamed', email_domain: 'one.example.com' },
      });
      assert.equal(clash.status, 400);
      assert.deepEqual((await call(app, 'GET', `/v2/managed_accounts/${second.body.token}`, { token: a.token })).body, second.body);
      const lists = await call(app, 'GET', '/v2/managed_accounts', { token: b.token });
      assert.deepEqual(lists.body.managed_accounts, []);
    });

    test('contact_email is one address in either Unicode form: a precomposed é and e + combining accent collide (found by an attack round)', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const local = `jos${randomBytes(3).toString('hex')}`;
      const precomposed = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: 'NFC', contact_email: `${local}\u00e9@example.com` } });
      assert.equal(precomposed.status, 201, precomposed.raw);
      assert.equal(precomposed.body.contact_email, `${local}\u00e9@example.com`, 'stored as sent');
      const decomposed = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: 'NFD', contact_email: `${local.toUpperCase()}e\u0301@example.com` } });
      assert.equal(decomposed.status, 400, decomposed.raw);
      assert.deepEqual(decomposed.body.errors, ['contact_email has already been taken by another account']);
    });

    test('email_domain must be a registrable host name', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      for (const bad of ['co.uk', 'https://acme.example.com', 'admin@acme.example.com', 'acme.example.com/path', 'localhost', '1.2.3.4', 'acme..example', '-acme.example', '']) {
        const res = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: 'X', contact_email: uniqueEmail(), email_domain: bad } });
        assert.equal(res.status, 400, `${bad} should be refused`);
        assert.match(res.body.errors.join(' '), /email_domain/);
      }
      for (const good of ['acme.co.uk', 'sub.acme.example', 'bücher.example']) {
        const res = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: 'X', contact_email: uniqueEmail(), email_domain: good } });
        assert.equal(res.status, 201, `${good}: ${res.raw}`);
        assert.equal(res.body.email_domain, good);
      }
      const list = await call(app, 'GET', '/v2/managed_accounts', { token: msp.token });
      assert.equal(list.body.managed_accounts.length, 3);
    });

    test('billing_rule_tokens are validated by execution stage; apply-to-all rules join the end of their stage on create', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const aws = await addRule(db.store, msp.accountToken, { type: 'custom', title: 'CUR rerate', sql_query: 'UPDATE aws SET "lineItem/UnblendedCost" = aws."lineItem/UnblendedCost" * 0.9' });
      const fee = await addRule(db.store, msp.accountToken, { type: 'charge', title: 'Fee', service: 'MSP', amount: 300, start_date: '2024-05-01' });
      const exclude = await addRule(db.store, msp.accountToken, { type: 'exclusion', title: 'No RI fees', charge_type: 'RIFee' });
      const monthly = await addRule(db.store, msp.accountToken, {
        type: 'custom',
        title: 'Fee on spend',
        sql_query: "INSERT INTO costs (amount, service) SELECT SUM(amount) * 0.05, 'MSP' FROM costs",
      });
      const [r1, r2] = msp.rules as [string, string]; // adjustments: COST transforms

      const ordered = [aws, fee, r2, exclude, r1, monthly];
      const ok = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: 'Ordered', contact_email: uniqueEmail(), billing_rule_tokens: ordered } });
      assert.equal(ok.status, 201, ok.raw);
      assert.deepEqual(ok.body.billing_rule_tokens, ordered, 'within a stage the order sent is kept');

      const before = await call(app, 'GET', '/v2/managed_accounts?limit=1000', { token: msp.token });
      for (const bad of [[fee, aws], [r1, fee], [monthly, exclude], [monthly, aws]]) {
        const res = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: 'Misordered', contact_email: uniqueEmail(), billing_rule_tokens: bad } });
        assert.equal(res.status, 400);
        assert.match(res.body.errors.join(' '), /billing_rule_tokens must be ordered by execution group/);
        const put = await call(app, 'PUT', `/v2/managed_accounts/${ok.body.token}`, { token: msp.token, body: { name: 'Changed', billing_rule_tokens: bad } });
        assert.equal(put.status, 400);
      }
      assert.deepEqual((await call(app, 'GET', '/v2/managed_accounts?limit=1000', { token: msp.token })).body, before.body, 'rejected requests change nothing');

      // Apply-to-all rules, in creation order, each at the end of its own stage.
      const allFee = await addRule(db.store, msp.accountToken, { type: 'credit', title: 'Loyalty credit', service: 'MSP', amount: '25.50', start_date: '2024-01-01', apply_to_all: true });
      const allAws = await addRule(db.store, msp.accountToken, { type: 'custom', title: 'Drop tax', sql_query: "DELETE FROM aws WHERE \"lineItem/LineItemType\" = 'Tax'", apply_to_all: true });
      const allAdj = await addRule(db.store, msp.accountToken, { type: 'adjustment', title: 'All 97%', percentage: 97, apply_to_all: true });
      const created = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: 'Implicit', contact_email: uniqueEmail(), billing_rule_tokens: [aws, fee, r1, monthly] } });
      assert.equal(created.status, 201, created.raw);
      assert.deepEqual(created.body.billing_rule_tokens, [aws, allAws, fee, allFee, r1, allAdj, monthly]);
      const listedAlready = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: 'Listed', contact_email: uniqueEmail(), billing_rule_tokens: [allAdj, r1] } });
      assert.deepEqual(listedAlready.body.billing_rule_tokens, [allAws, allFee, allAdj, r1], 'a listed apply-to-all rule keeps its place');
      // Existing accounts received the apply-to-all rules when they were created.
      const existing = await call(app, 'GET', `/v2/managed_accounts/${ok.body.token}`, { token: msp.token });
      assert.deepEqual(existing.body.billing_rule_tokens, [aws, allAws, fee, allFee, r2, exclude, r1, allAdj, monthly]);
      // On update the list is authoritative: [] clears everything, apply-to-all included.
      const cleared = await call(app, 'PUT', `/v2/managed_accounts/${ok.body.token}`, { token: msp.token, body: { billing_rule_tokens: [] } });
      assert.deepEqual(cleared.body.billing_rule_tokens, []);
    });

    test('pagination: oldest first, absolute links keeping other parameters, limits clamped at 1000', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const tokens: string[] = [];
      for (let i = 0; i < 5; i++) {
        tokens.push((await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: `Account ${i}`, contact_email: uniqueEmail() } })).body.token);
      }
      const all = await call(app, 'GET', '/v2/managed_accounts', { token: msp.token });
      assert.deepEqual(all.body.managed_accounts.map((a: { token: string }) => a.token), tokens);
      assert.deepEqual(all.body.links, {
        self: 'https://steward.test/v2/managed_accounts',
        first: 'https://steward.test/v2/managed_accounts?page=1',
        next: null,
        last: 'https://steward.test/v2/managed_accounts?page=1',
        prev: null,
      });
      const page2 = await call(app, 'GET', '/v2/managed_accounts?limit=2&page=2&extra=kept', { token: msp.token });
      assert.deepEqual(page2.body.managed_accounts.map((a: { token: string }) => a.token), tokens.slice(2, 4));
      assert.deepEqual(page2.body.links, {
        self: 'https://steward.test/v2/managed_accounts?limit=2&page=2&extra=kept',
        first: 'https://steward.test/v2/managed_accounts?limit=2&page=1&extra=kept',
        next: 'https://steward.test/v2/managed_accounts?limit=2&page=3&extra=kept',
        last: 'https://steward.test/v2/managed_accounts?limit=2&page=3&extra=kept',
        prev: 'https://steward.test/v2/managed_accounts?limit=2&page=1&extra=kept',
      });
      const huge = await call(app, 'GET', '/v2/managed_accounts?limit=5000', { token: msp.token });
      assert.equal(huge.status, 200);
      assert.equal(huge.body.managed_accounts.length, 5);
      for (const bad of ['page=0', 'page=-1', 'page=1.5', 'limit=0', 'limit=abc', 'page=x']) {
        const res = await call(app, 'GET', `/v2/managed_accounts?${bad}`, { token: msp.token });
        assert.equal(res.status, 400, bad);
        assert.match(res.body.errors[0], new RegExp(bad.split('=')[0] as string));
      }
    });

    test('inputs that could upset the database are 4xx, never 5xx', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const m = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: 'Target', contact_email: uniqueEmail() } });
      const path = `/v2/managed_accounts/${m.body.token}`;
      const nul = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: 'N', contact_email: uniqueEmail(), billing_rule_tokens: ['bllng_rule_\u0000'] } });
      assert.equal(nul.status, 400);
      assert.match(nul.body.errors[0], /billing_rule_tokens\[0\] must not contain the NUL character/);
      // An unknown token is named in the 400, but never echoed whole: a 100,000-character entry gives a short message.
      for (const field of ['billing_rule_tokens', 'access_credential_tokens']) {
        const huge = await call(app, 'PUT', path, { token: msp.token, body: { [field]: ['a'.repeat(100_000)] } });
        assert.equal(huge.status, 400);
        assert.match(huge.body.errors[0], new RegExp(`^${field} contains "a{60}"… \\(100000 characters\\)`));
        assert.ok(huge.raw.length < 300, `${field}: ${huge.raw.length} bytes`);
      }
      const many = await call(app, 'PUT', path, { token: msp.token, body: { access_credential_tokens: Array.from({ length: 1001 }, (_, i) => `accss_crdntl_${String(i).padStart(16, '0')}`) } });
      assert.equal(many.status, 400);
      assert.match(many.body.errors[0], /access_credential_tokens has too many entries \(maximum is 1000\)/);
      const surrogate = await call(app, 'PUT', path, { token: msp.token, body: '{"name":"bad \\ud800 half"}' });
      assert.equal(surrogate.status, 400);
      assert.match(surrogate.body.errors[0], /name must be valid Unicode/);
      const tooLong = await call(app, 'GET', `/v2/managed_accounts/${'x'.repeat(5000)}`, { token: msp.token });
      assert.equal(tooLong.status, 414);
      assert.deepEqual(tooLong.body, { errors: ['a path parameter is too long (maximum is 100 characters)'] });
      assert.ok(tooLong.headers['x-request-id']);
      assert.equal((await call(app, 'GET', '/v2/managed_accounts/%E0%A4%A', { token: msp.token })).status, 400);
      // A control character in a path parameter is refused as malformed before any lookup (docs/security.md).
      assert.equal((await call(app, 'GET', '/v2/managed_accounts/acct_%00', { token: msp.token })).status, 400);
      for (const url of ['/v2/managed_accounts/%E2%82%AC', `/v2/managed_accounts/${'x'.repeat(100)}`, '/v2/managed_accounts/acct_ZZZZ']) {
        assert.equal((await call(app, 'GET', url, { token: msp.token })).status, 404, url);
        assert.equal((await call(app, 'PUT', url, { token: msp.token, body: { name: 'x' } })).status, 404, url);
        assert.equal((await call(app, 'DELETE', url, { token: msp.token })).status, 404, url);
      }
      const clamped = await call(app, 'GET', '/v2/managed_accounts?limit=1000000', { token: msp.token });
      assert.equal(clamped.status, 200, 'an over-maximum limit is clamped (M8)');
      for (const query of ['page=1e30', 'page=99999999999', 'page=2147483648', 'limit=1e400', 'limit=Infinity', 'limit=0x10', 'limit=0b11', 'limit=%201', 'page=+2', 'limit=1&limit=2']) {
        const res = await call(app, 'GET', `/v2/managed_accounts?${query}`, { token: msp.token });
        assert.equal(res.status, 400, query);
      }
      const farPage = await call(app, 'GET', '/v2/managed_accounts?page=2147483647&limit=99999', { token: msp.token });
      assert.equal(farPage.status, 200);
      assert.deepEqual(farPage.body.managed_accounts, []);
      assert.deepEqual((await call(app, 'GET', path, { token: msp.token })).body, m.body);
    });

    test('bad bodies get a 400 naming the field and change nothing', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const cases: Array<[unknown, RegExp]> = [
        [{}, /name is required/],
        [{ name: 'X' }, /contact_email is required/],
        [{ name: null, contact_email: uniqueEmail() }, /name is required/],
        [{ name: 5, contact_email: uniqueEmail() }, /name must be a string/],
        [{ name: 'X', contact_email: uniqueEmail(), billing_rule_tokens: 'bllng_rule_x' }, /billing_rule_tokens must be an array/],
        [{ name: 'X', contact_email: uniqueEmail(), billing_rule_tokens: [7] }, /billing_rule_tokens\[0\] must be a string/],
        [{ name: 'X', contact_email: uniqueEmail(), access_credential_tokens: ['accss_crdntl_0000000000000000'] }, /access_credential_tokens contains accss_crdntl_0000000000000000/],
        [{ name: 'X', contact_email: uniqueEmail(), access_credential_tokens: [msp.integrations[0], msp.integrations[0]] }, /access_credential_tokens lists .* more than once/],
        [{ name: 'Tab\there', contact_email: uniqueEmail() }, /name must not contain control, line-separator or text-direction characters/],
        [[1, 2], /body must be an object/],
        ['"just a string"', /body must be an object/],
      ];
      for (const [body, message] of cases) {
        const res = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body });
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.match(res.body.errors.join(' | '), message);
      }
      const noBody = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token });
      assert.equal(noBody.status, 400);
      const wrongType = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: 'name=X', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      assert.equal(wrongType.status, 415);
      assert.ok(wrongType.body.errors[0]);
      const malformed = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: '{"name": "X",' });
      assert.equal(malformed.status, 400);
      assert.match(malformed.body.errors[0], /not valid JSON/);
      const proto = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: '{"name":"X","contact_email":"p@example.com","__proto__":{"admin":true}}' });
      assert.equal(proto.status, 400);
      const unknownKeys = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: 'Extra', contact_email: uniqueEmail(), future_field: 1 } });
      assert.equal(unknownKeys.status, 201, 'unknown keys are ignored (W2)');
      assert.equal('future_field' in unknownKeys.body, false);
      const list = await call(app, 'GET', '/v2/managed_accounts', { token: msp.token });
      assert.deepEqual(list.body.managed_accounts.map((a: { name: string }) => a.name), ['Extra']);
    });
  });
}
