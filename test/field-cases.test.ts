import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { call, DIALECTS, seedMsp, testApp, type MspFixture, type TestApp } from './helpers/app.ts';

/** ../shared/cases/field-cases.md, the cases that touch /v2/managed_accounts. */
for (const dialect of DIALECTS) {
  describe(`field cases [${dialect.name}]`, { skip: dialect.skip }, () => {
    const create = (ctx: TestApp, msp: MspFixture, body: unknown) => call(ctx.app, 'POST', '/v2/managed_accounts', { token: msp.token, body });
    const list = (ctx: TestApp, msp: MspFixture) => call(ctx.app, 'GET', '/v2/managed_accounts?limit=1000', { token: msp.token });

    test('C01: access_credential_tokens is exactly the delegated set, in every response', async (t) => {
      const ctx = await testApp(t, dialect.name);
      const msp = await seedMsp(ctx.db.store);
      const [a1, a2] = msp.integrations as [string, string];
      const created = await create(ctx, msp, { name: 'Globex Ltd', contact_email: 'globex-admin@example.com', access_credential_tokens: [a1] });
      assert.equal(created.status, 201);
      assert.deepEqual(created.body.access_credential_tokens, [a1]);
      const got = await call(ctx.app, 'GET', `/v2/managed_accounts/${created.body.token}`, { token: msp.token });
      assert.equal(got.status, 200);
      assert.deepEqual(got.body.access_credential_tokens, [a1]);
      assert.deepEqual((await list(ctx, msp)).body.managed_accounts[0].access_credential_tokens, [a1]);
      const put = await call(ctx.app, 'PUT', `/v2/managed_accounts/${created.body.token}`, { token: msp.token, body: { access_credential_tokens: [a2, a1] } });
      assert.equal(put.status, 200);
      assert.deepEqual([...put.body.access_credential_tokens].sort(), [a1, a2].sort());
      assert.equal(new Set(put.body.access_credential_tokens).size, 2, 'no duplicates');
    });

    test('C03: null list is a 400 naming it, repeats and unknown tokens are 400, [] clears; rejections change nothing', async (t) => {
      const ctx = await testApp(t, dialect.name);
      const msp = await seedMsp(ctx.db.store);
      const [r1] = msp.rules as [string];
      const m = await create(ctx, msp, { name: 'M', contact_email: 'm-admin@example.com', billing_rule_tokens: [r1], access_credential_tokens: [msp.integrations[0]] });
      const path = `/v2/managed_accounts/${m.body.token}`;

      const nullList = await call(ctx.app, 'PUT', path, { token: msp.token, body: { billing_rule_tokens: null } });
      assert.equal(nullList.status, 400);
      assert.match(nullList.body.errors.join(' '), /billing_rule_tokens/);
      const repeated = await call(ctx.app, 'PUT', path, { token: msp.token, body: { billing_rule_tokens: [r1, r1] } });
      assert.equal(repeated.status, 400);
      assert.match(repeated.body.errors.join(' '), new RegExp(r1));
      const unknown = await call(ctx.app, 'PUT', path, { token: msp.token, body: { billing_rule_tokens: ['bllng_rule_doesnotexist'] } });
      assert.equal(unknown.status, 400);
      assert.match(unknown.body.errors.join(' '), /bllng_rule_doesnotexist/);
      assert.deepEqual((await call(ctx.app, 'GET', path, { token: msp.token })).body.billing_rule_tokens, [r1]);

      const cleared = await call(ctx.app, 'PUT', path, { token: msp.token, body: { access_credential_tokens: [], billing_rule_tokens: [] } });
      assert.equal(cleared.status, 200);
      assert.deepEqual(cleared.body.access_credential_tokens, []);
      assert.deepEqual(cleared.body.billing_rule_tokens, []);
      const after = await call(ctx.app, 'GET', path, { token: msp.token });
      assert.deepEqual(after.body.access_credential_tokens, []);
      assert.deepEqual(after.body.billing_rule_tokens, []);
    });

    test('C04: unset optionals are null, empty lists [], list items equal the single GET', async (t) => {
      const ctx = await testApp(t, dialect.name);
      const msp = await seedMsp(ctx.db.store);
      const created = await create(ctx, msp, { name: 'Umbrella Partners', contact_email: 'umbrella-admin@example.com' });
      assert.equal(created.status, 201);
      assert.equal(created.body.email_domain, null);
      assert.ok('email_domain' in created.body);
      assert.deepEqual(created.body.access_credential_tokens, []);
      assert.deepEqual(created.body.billing_rule_tokens, []);
      assert.deepEqual(Object.keys(created.body).sort(), [
        'access_credential_tokens', 'billing_rule_tokens', 'contact_email', 'email_domain', 'name', 'parent_account_token', 'token',
      ]);
      const got = await call(ctx.app, 'GET', `/v2/managed_accounts/${created.body.token}`, { token: msp.token });
      assert.deepEqual(got.body, created.body);
      const item = (await list(ctx, msp)).body.managed_accounts.find((a: { token: string }) => a.token === created.body.token);
      assert.deepEqual(item, created.body);
      const put = await call(ctx.app, 'PUT', `/v2/managed_accounts/${created.body.token}`, { token: msp.token, body: { email_domain: 'umbrella.example.com' } });
      assert.equal(put.status, 200);
      assert.equal(put.body.email_domain, 'umbrella.example.com');
    });

    test('C06: links on every page, next null exactly on the last page, page past the end is []', async (t) => {
      const ctx = await testApp(t, dialect.name);
      const msp = await seedMsp(ctx.db.store);
      for (const n of [1, 2, 3]) await create(ctx, msp, { name: `Paged ${n}`, contact_email: `paged${n}-admin@example.com` });
      const p1 = await call(ctx.app, 'GET', '/v2/managed_accounts?limit=2', { token: msp.token });
      assert.equal(p1.status, 200);
      assert.equal(p1.body.managed_accounts.length, 2);
      const next = new URL(p1.body.links.next);
      assert.equal(next.searchParams.get('page'), '2');
      assert.equal(next.searchParams.get('limit'), '2');
      const p2 = await call(ctx.app, 'GET', '/v2/managed_accounts?limit=2&page=2', { token: msp.token });
      assert.equal(p2.body.managed_accounts.length, 1);
      assert.equal(p2.body.links.next, null);
      assert.equal(new URL(p2.body.links.prev).searchParams.get('page'), '1');
      const p3 = await call(ctx.app, 'GET', '/v2/managed_accounts?limit=2&page=3', { token: msp.token });
      assert.equal(p3.status, 200);
      assert.deepEqual(p3.body.managed_accounts, []);
      assert.equal(p3.body.links.next, null);
      const bad = await call(ctx.app, 'GET', '/v2/managed_accounts?limit=abc', { token: msp.token });
      assert.equal(bad.status, 400);
      assert.ok(bad.body.errors.length > 0);
      // Following links.next from the first page visits every account exactly once.
      const seen: string[] = [];
      let url: string | null = 'https://steward.test/v2/managed_accounts?limit=2';
      while (url) {
        const u: URL = new URL(url);
        const page = await call(ctx.app, 'GET', u.pathname + u.search, { token: msp.token });
        seen.push(...page.body.managed_accounts.map((a: { name: string }) => a.name));
        url = page.body.links.next;
      }
      assert.deepEqual(seen, ['Paged 1', 'Paged 2', 'Paged 3']);
    });

    test('C07: 401 with a message and WWW-Authenticate; read-only token on a write is 403 and creates nothing', async (t) => {
      const ctx = await testApp(t, dialect.name);
      const msp = await seedMsp(ctx.db.store);
      const none = await call(ctx.app, 'GET', '/v2/managed_accounts');
      assert.equal(none.status, 401);
      assert.ok(none.body.errors[0].length > 0);
      assert.match(String(none.headers['www-authenticate']), /^Bearer/);
      const fake = await call(ctx.app, 'GET', '/v2/managed_accounts', { headers: { authorization: 'Bearer not-a-real-token' } });
      assert.equal(fake.status, 401);
      assert.ok(fake.body.errors[0].length > 0);
      assert.match(String(fake.headers['www-authenticate']), /^Bearer/);
      const ro = await call(ctx.app, 'POST', '/v2/managed_accounts', { token: msp.readOnly, body: { name: 'Read Only Co', contact_email: 'ro-admin@example.com' } });
      assert.equal(ro.status, 403);
      assert.ok(ro.body.errors[0].length > 0);
      assert.deepEqual((await list(ctx, msp)).body.managed_accounts, []);
    });

    test('C09: valid addresses with +tags and multi-label domains are accepted and echoed; malformed ones are 400', async (t) => {
      const ctx = await testApp(t, dialect.name, { allowedContactDomains: ['example.co.uk'] });
      const msp = await seedMsp(ctx.db.store);
      const contoso = await create(ctx, msp, { name: 'Contoso UK', contact_email: 'admin+contoso@example.co.uk' });
      assert.equal(contoso.status, 201, contoso.raw);
      assert.equal(contoso.body.contact_email, 'admin+contoso@example.co.uk');
      const fabrikam = await create(ctx, msp, { name: 'Fabrikam UK', contact_email: 'admin+fabrikam@example.co.uk' });
      assert.equal(fabrikam.status, 201, fabrikam.raw);
      assert.notEqual(fabrikam.body.token, contoso.body.token);
      const broken = await create(ctx, msp, { name: 'Broken', contact_email: 'admin@@example.co.uk' });
      assert.equal(broken.status, 400);
      assert.match(broken.body.errors.join(' '), /contact_email/);
      const elsewhere = await create(ctx, msp, { name: 'Elsewhere', contact_email: 'admin@example.com' });
      assert.equal(elsewhere.status, 400, 'the configured contact domain is enforced');
      assert.match(elsewhere.body.errors.join(' '), /contact_email must be an address at example\.co\.uk \(or a subdomain\)/);
      for (const bad of ['plainaddress', 'a@b', '@example.co.uk', 'admin@example.co.uk.', 'two words@example.co.uk']) {
        const res = await create(ctx, msp, { name: 'Bad', contact_email: bad });
        assert.equal(res.status, 400, bad);
        assert.match(res.body.errors.join(' '), /contact_email/);
      }
      assert.equal((await list(ctx, msp)).body.managed_accounts.length, 2);
    });

    test('C16: names are limited to 255 characters, not blank, counted as characters and echoed exactly', async (t) => {
      const ctx = await testApp(t, dialect.name);
      const msp = await seedMsp(ctx.db.store);
      const long = await create(ctx, msp, { name: 'A'.repeat(1000), contact_email: 'longname-admin@example.com' });
      assert.equal(long.status, 400);
      assert.match(long.body.errors.join(' '), /name is too long \(maximum is 255 characters\)/);
      const blank = await create(ctx, msp, { name: '   ', contact_email: 'longname-admin@example.com' });
      assert.equal(blank.status, 400);
      assert.match(blank.body.errors.join(' '), /name/);
      const unicode = 'Société Générale Ünïcode 株式会社';
      const ok = await create(ctx, msp, { name: unicode, contact_email: 'longname-admin@example.com' });
      assert.equal(ok.status, 201);
      assert.equal(ok.body.name, unicode);
      const emoji = '😀'.repeat(255); // 255 code points, 510 UTF-16 units, 1020 bytes
      const max = await create(ctx, msp, { name: emoji, contact_email: 'emoji-admin@example.com' });
      assert.equal(max.status, 201, max.raw);
      assert.equal((await call(ctx.app, 'GET', `/v2/managed_accounts/${max.body.token}`, { token: msp.token })).body.name, emoji);
      const over = await call(ctx.app, 'PUT', `/v2/managed_accounts/${ok.body.token}`, { token: msp.token, body: { name: 'x'.repeat(256) } });
      assert.equal(over.status, 400);
      assert.equal((await call(ctx.app, 'GET', `/v2/managed_accounts/${ok.body.token}`, { token: msp.token })).body.name, unicode);
    });

    test('C05: only the fields a rule type needs are required; unset fields are null; a missing one is a 400 naming it', async (t) => {
      const ctx = await testApp(t, dialect.name);
      const msp = await seedMsp(ctx.db.store);
      const exclusion = await call(ctx.app, 'POST', '/v2/billing_rules', { token: msp.token, body: { title: 'Exclude RI fees', type: 'exclusion', charge_type: 'RIFee' } });
      assert.equal(exclusion.status, 201, exclusion.raw);
      assert.equal(exclusion.body.charge_type, 'RIFee');
      for (const key of ['category', 'service', 'sub_category', 'percentage', 'amount', 'sql_query']) {
        assert.ok(key in exclusion.body, `${key} is present`);
        assert.equal(exclusion.body[key], null, key);
      }
      assert.equal(exclusion.body.apply_to_all, false);
      assert.equal(exclusion.body.type, 'exclusion');
      assert.equal(exclusion.body.title, 'Exclude RI fees');
      const got = await call(ctx.app, 'GET', `/v2/billing_rules/${exclusion.body.token}`, { token: msp.token });
      assert.deepEqual(got.body, exclusion.body, 'values round-trip unchanged');

      const before = await call(ctx.app, 'GET', '/v2/billing_rules?limit=1000', { token: msp.token });
      const adjustment = await call(ctx.app, 'POST', '/v2/billing_rules', { token: msp.token, body: { title: 'Partner uplift', type: 'adjustment' } });
      assert.equal(adjustment.status, 400, adjustment.raw);
      assert.match(adjustment.body.errors.join(' '), /percentage/);
      assert.doesNotMatch(adjustment.body.errors.join(' '), /service|category/, 'service and category are not required for adjustments');
      assert.deepEqual((await call(ctx.app, 'GET', '/v2/billing_rules?limit=1000', { token: msp.token })).body, before.body, 'nothing was created');
    });

    test('C15: deleting a rule an account uses cascades cleanly; a deleted account is 404 on every later call', async (t) => {
      const ctx = await testApp(t, dialect.name);
      const msp = await seedMsp(ctx.db.store);
      const [r1, r2] = msp.rules as [string, string];
      const m = await create(ctx, msp, { name: 'M', contact_email: 'c15-admin@example.com', billing_rule_tokens: [r1, r2] });
      assert.equal(m.status, 201, m.raw);
      assert.deepEqual(m.body.billing_rule_tokens, [r1, r2]);
      const path = `/v2/managed_accounts/${m.body.token}`;

      const deleted = await call(ctx.app, 'DELETE', `/v2/billing_rules/${r1}`, { token: msp.token });
      assert.equal(deleted.status, 204, deleted.raw);
      assert.equal(deleted.raw, '');
      const rule = await call(ctx.app, 'GET', `/v2/billing_rules/${r1}`, { token: msp.token });
      assert.equal(rule.status, 404);
      assert.ok(rule.body.errors.length > 0);

      const got = await call(ctx.app, 'GET', path, { token: msp.token });
      assert.equal(got.status, 200);
      assert.deepEqual(got.body.billing_rule_tokens, [r2], 'the deleted rule no longer dangles');
      const listed = await list(ctx, msp);
      assert.ok(!listed.raw.includes(r1), 'no GET returns the deleted token');

      const first = await call(ctx.app, 'DELETE', path, { token: msp.token });
      assert.equal(first.status, 204);
      const second = await call(ctx.app, 'DELETE', path, { token: msp.token });
      assert.equal(second.status, 404);
      assert.ok(second.body.errors.length > 0);
      const after = await call(ctx.app, 'GET', path, { token: msp.token });
      assert.equal(after.status, 404);
      assert.ok(after.body.errors.length > 0);
      // The remaining rule is still there, unassigned.
      assert.equal((await call(ctx.app, 'GET', `/v2/billing_rules/${r2}`, { token: msp.token })).status, 200);
    });

    test('C10: a create retried with the same Idempotency-Key replays the 201 and makes one account', async (t) => {
      const ctx = await testApp(t, dialect.name);
      const msp = await seedMsp(ctx.db.store);
      const send = () =>
        call(ctx.app, 'POST', '/v2/managed_accounts', {
          token: msp.token,
          body: { name: 'Stark Logistics', contact_email: 'stark-admin@example.com' },
          headers: { 'Idempotency-Key': '3f6e2c1a-retry-test' },
        });
      const first = await send();
      assert.equal(first.status, 201, first.raw);
      const second = await send();
      assert.equal(second.status, 201, second.raw);
      assert.equal(second.body.token, first.body.token);
      assert.equal(second.raw, first.raw);
      const stark = (await list(ctx, msp)).body.managed_accounts.filter((a: { contact_email: string }) => a.contact_email === 'stark-admin@example.com');
      assert.equal(stark.length, 1);
      assert.equal(stark[0].token, first.body.token);
    });

    test('C17: 20 rapid creates at 5 req/s: 429s with Retry-After and errors, and the list holds exactly the 201s', async (t) => {
      const ctx = await testApp(t, dialect.name, { rateLimitMax: 5, rateLimitWindowSeconds: 1 });
      const msp = await seedMsp(ctx.db.store);
      const numbers = Array.from({ length: 20 }, (_, i) => String(i + 1).padStart(2, '0'));
      const results = await Promise.all(numbers.map((n) => create(ctx, msp, { name: `Burst ${n}`, contact_email: `burst${n}-admin@example.com` })));
      const throttled = results.filter((r) => r.status === 429);
      const created = results.filter((r) => r.status === 201);
      assert.equal(throttled.length + created.length, 20, results.map((r) => `${r.status} ${r.raw}`).join('\n'));
      assert.ok(throttled.length >= 1, 'at least one 429');
      t.diagnostic(`${created.length} × 201, ${throttled.length} × 429`);
      for (const res of throttled) {
        assert.match(String(res.headers['retry-after']), /^[1-9][0-9]*$/, 'Retry-After is an integer ≥ 1');
        assert.ok(Array.isArray(res.body.errors) && res.body.errors.length > 0);
        assert.match(res.body.errors[0], /Rate limit exceeded/);
      }
      // Listed with the read-only token, which has a bucket of its own.
      const listed = await call(ctx.app, 'GET', '/v2/managed_accounts?limit=1000', { token: msp.readOnly });
      assert.equal(listed.status, 200);
      assert.equal(listed.body.managed_accounts.length, created.length);
      assert.deepEqual(
        listed.body.managed_accounts.map((a: { token: string }) => a.token).sort(),
        created.map((r) => r.body.token).sort(),
      );
    });
  });
}
