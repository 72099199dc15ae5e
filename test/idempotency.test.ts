import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { createAccount, createApiToken, setAccountInvoicing } from '../src/domain/accounts.ts';
import { hashApiToken } from '../src/domain/tokens.ts';
import type { Store } from '../src/store/database.ts';
import { call, DIALECTS, seedMsp, testApp, uniqueEmail, type Response, type TestApp } from './helpers/app.ts';

const KEY = 'Idempotency-Key';

/** W9 timestamp `seconds` ago, as the idempotency_keys rows store them. */
const isoAgo = (seconds: number) => new Date(Date.now() - seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

const keyRows = (store: Store) => store.db.selectFrom('idempotency_keys').selectAll().orderBy('id').execute();

/** Makes every INSERT into accounts fail inside the database, as a broken disk or a lost connection would. */
async function breakAccountInserts(store: Store): Promise<() => Promise<void>> {
  if (store.dialect === 'sqlite') {
    await sql`CREATE TRIGGER refuse_accounts BEFORE INSERT ON accounts BEGIN SELECT RAISE(ABORT, 'injected failure'); END`.execute(store.db);
    return async () => void (await sql`DROP TRIGGER refuse_accounts`.execute(store.db));
  }
  await sql`CREATE FUNCTION refuse_accounts() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql`.execute(store.db);
  await sql`CREATE TRIGGER refuse_accounts BEFORE INSERT ON accounts FOR EACH ROW EXECUTE FUNCTION refuse_accounts()`.execute(store.db);
  return async () => void (await sql`DROP TRIGGER refuse_accounts ON accounts`.execute(store.db));
}

/**
 * Test-only: a request with `x-test-delay-ms` sleeps that long in a preHandler. Added after buildApp's, so it runs
 * after the idempotency preHandler: the request holds its claim while it sleeps, as a slow handler would.
 */
function slowDown(ctx: TestApp): void {
  ctx.app.addHook('preHandler', async (request) => {
    const delay = Number(request.headers['x-test-delay-ms'] ?? 0);
    if (delay > 0) await sleep(delay);
  });
}

function assertReplayOf(replay: Response, first: Response): void {
  assert.equal(replay.status, first.status);
  assert.equal(replay.raw, first.raw, 'byte-identical body');
  assert.equal(replay.headers['content-type'], first.headers['content-type']);
  assert.equal(replay.headers['idempotent-replayed'], 'true');
  assert.equal(first.headers['idempotent-replayed'], undefined);
}

for (const dialect of DIALECTS) {
  describe(`Idempotency-Key [${dialect.name}]`, { skip: dialect.skip }, () => {
    const post = (ctx: TestApp, token: string, body: unknown, key?: string) =>
      call(ctx.app, 'POST', '/v2/managed_accounts', { token, body, headers: key === undefined ? {} : { [KEY]: key } });
    const names = async (ctx: TestApp, token: string) =>
      (await call(ctx.app, 'GET', '/v2/managed_accounts?limit=1000', { token })).body.managed_accounts.map((a: { name: string }) => a.name);

    test('a retried POST replays the first response byte for byte and creates nothing more', async (t) => {
      const ctx = await testApp(t, dialect.name);
      const msp = await seedMsp(ctx.db.store);
      const body = { name: 'Retry Co', contact_email: uniqueEmail() };
      const first = await post(ctx, msp.token, body, 'order-42');
      assert.equal(first.status, 201, first.raw);
      const second = await post(ctx, msp.token, body, 'order-42');
      assertReplayOf(second, first);
      // Key order in the body is not part of the request's meaning.
      const reordered = await post(ctx, msp.token, { contact_email: body.contact_email, name: body.name }, 'order-42');
      assertReplayOf(reordered, first);
      assert.deepEqual(await names(ctx, msp.token), ['Retry Co']);
      const [row] = await keyRows(ctx.db.store);
      assert.equal(row?.status, 201);
      assert.match(String(row?.response_body), /^v1:[A-Za-z0-9_-]+$/, 'stored sealed, not as sent');
    });

    test('the same key with another body, URL or method is a 400 naming Idempotency-Key, and runs nothing', async (t) => {
      const ctx = await testApp(t, dialect.name);
      const msp = await seedMsp(ctx.db.store);
      const first = await post(ctx, msp.token, { name: 'Original', contact_email: uniqueEmail() }, 'reused');
      assert.equal(first.status, 201);
      const other = await post(ctx, msp.token, { name: 'Different', contact_email: uniqueEmail() }, 'reused');
      assert.equal(other.status, 400);
      assert.deepEqual(other.body.errors, [
        'Idempotency-Key "reused" was already used with a different request (method, URL or body) in the last 24 hours; use a new key for a new request',
      ]);
      const otherRoute = await call(ctx.app, 'PUT', `/v2/managed_accounts/${first.body.token}`, { token: msp.token, body: { name: 'Renamed' }, headers: { [KEY]: 'reused' } });
      assert.equal(otherRoute.status, 400);
      assert.match(otherRoute.body.errors[0], /Idempotency-Key/);
      assert.deepEqual(await names(ctx, msp.token), ['Original']);
    });

    test('keys belong to one API token: another token with the same key runs its own request', async (t) => {
      const ctx = await testApp(t, dialect.name);
      const msp = await seedMsp(ctx.db.store);
      const second = (await createApiToken(ctx.db.store.db, { accountToken: msp.accountToken, scopes: 'read,write', description: 'second' })).token;
      const a = await post(ctx, msp.token, { name: 'From token A', contact_email: uniqueEmail() }, 'shared-key');
      const b = await post(ctx, second, { name: 'From token B', contact_email: uniqueEmail() }, 'shared-key');
      assert.equal(a.status, 201);
      assert.equal(b.status, 201, b.raw);
      assert.notEqual(a.body.token, b.body.token);
      assert.equal(b.headers['idempotent-replayed'], undefined);
      assert.deepEqual(await names(ctx, msp.token), ['From token A', 'From token B']);
    });

    test('PUT and DELETE replay too: the handler does not run again, and a replayed DELETE is 204, not 404', async (t) => {
      const ctx = await testApp(t, dialect.name);
      const msp = await seedMsp(ctx.db.store);
      const created = await post(ctx, msp.token, { name: 'Before', contact_email: uniqueEmail() });
      const path = `/v2/managed_accounts/${created.body.token}`;
      const put = () => call(ctx.app, 'PUT', path, { token: msp.token, body: { name: 'After' }, headers: { [KEY]: 'rename-1' } });
      const firstPut = await put();
      assert.equal(firstPut.status, 200);
      assert.equal((await call(ctx.app, 'PUT', path, { token: msp.token, body: { name: 'Changed since' } })).status, 200);
      assertReplayOf(await put(), firstPut);
      assert.equal((await call(ctx.app, 'GET', path, { token: msp.token })).body.name, 'Changed since', 'the replay changed nothing');

      const del = () => call(ctx.app, 'DELETE', path, { token: msp.token, headers: { [KEY]: 'delete-1' } });
      const firstDelete = await del();
      assert.equal(firstDelete.status, 204);
      assertReplayOf(await del(), firstDelete);
      assert.equal((await call(ctx.app, 'DELETE', path, { token: msp.token })).status, 404, 'without the key it is a new request');
    });

    test('a 4xx from the handler is stored and replayed like any response below 500', async (t) => {
      const ctx = await testApp(t, dialect.name);
      const msp = await seedMsp(ctx.db.store);
      const missing = () => call(ctx.app, 'PUT', '/v2/managed_accounts/acct_0123456789abcdef', { token: msp.token, body: { name: 'X' }, headers: { [KEY]: 'ghost' } });
      const first = await missing();
      assert.equal(first.status, 404);
      assertReplayOf(await missing(), first);
    });

    test('without the header nothing changes; on GET the header is ignored', async (t) => {
      const ctx = await testApp(t, dialect.name);
      const msp = await seedMsp(ctx.db.store);
      const body = { name: 'Plain', contact_email: uniqueEmail() };
      assert.equal((await post(ctx, msp.token, body)).status, 201);
      const again = await post(ctx, msp.token, body);
      assert.equal(again.status, 400);
      assert.match(again.body.errors.join(' '), /contact_email/);
      for (let i = 0; i < 2; i++) {
        const got = await call(ctx.app, 'GET', '/v2/managed_accounts', { token: msp.token, headers: { [KEY]: 'get-key' } });
        assert.equal(got.status, 200);
        assert.equal(got.headers['idempotent-replayed'], undefined);
      }
      assert.deepEqual(await keyRows(ctx.db.store), []);
    });

    test('a malformed key is a 400 naming Idempotency-Key and creates nothing', async (t) => {
      const ctx = await testApp(t, dialect.name);
      const msp = await seedMsp(ctx.db.store);
      for (const key of ['', 'a'.repeat(256), 'has space', 'tab\there', 'caf\u00e9']) {
        const res = await post(ctx, msp.token, { name: 'Bad key', contact_email: uniqueEmail() }, key);
        assert.equal(res.status, 400, JSON.stringify(key));
        assert.deepEqual(res.body.errors, ['Idempotency-Key must be 1 to 255 visible ASCII characters (letters, digits, punctuation; no spaces)']);
      }
      const repeated = await ctx.app.inject({
        method: 'POST',
        url: '/v2/managed_accounts',
        headers: { authorization: `Bearer ${msp.token}`, 'content-type': 'application/json', [KEY]: ['one', 'two'] },
        payload: JSON.stringify({ name: 'Two keys', contact_email: uniqueEmail() }),
      });
      assert.equal(repeated.statusCode, 400, 'two Idempotency-Key headers are ambiguous');
      assert.deepEqual(JSON.parse(repeated.body), { errors: ['send exactly one Idempotency-Key header'] });
      assert.equal((await post(ctx, msp.token, { name: 'Longest key', contact_email: uniqueEmail() }, `~${'k'.repeat(254)}`)).status, 201);
      assert.deepEqual(await names(ctx, msp.token), ['Longest key']);
    });

    test('a request refused by validation leaves the key unused, so the corrected request with that key runs', async (t) => {
      const ctx = await testApp(t, dialect.name);
      const msp = await seedMsp(ctx.db.store);
      const refused = await post(ctx, msp.token, { name: 'Fixed later' }, 'fix-me');
      assert.equal(refused.status, 400);
      assert.match(refused.body.errors.join(' '), /contact_email/);
      assert.deepEqual(await keyRows(ctx.db.store), []);
      const corrected = await post(ctx, msp.token, { name: 'Fixed later', contact_email: uniqueEmail() }, 'fix-me');
      assert.equal(corrected.status, 201, corrected.raw);
      assert.equal(corrected.headers['idempotent-replayed'], undefined);
    });

    test('20 concurrent identical POSTs with one key: exactly one account; each answer is that 201 or a 409', async (t) => {
      const ctx = await testApp(t, dialect.name);
      const msp = await seedMsp(ctx.db.store);
      const body = { name: 'Stampede', contact_email: uniqueEmail() };
      const results = await Promise.all(Array.from({ length: 20 }, () => post(ctx, msp.token, body, 'stampede-1')));
      const created = results.filter((r) => r.status === 201);
      t.diagnostic(`${created.length} × 201, ${results.length - created.length} × 409`);
      assert.ok(created.length >= 1, results.map((r) => `${r.status} ${r.raw}`).join('\n'));
      for (const res of results) {
        if (res.status === 201) assert.equal(res.body.token, created[0]?.body.token);
        else {
          assert.equal(res.status, 409, res.raw);
          assert.deepEqual(res.body.errors, ['A request with this Idempotency-Key is still in progress; retry later']);
        }
      }
      assert.equal(created.filter((r) => r.headers['idempotent-replayed'] === undefined).length, 1, 'the handler ran once');
      assert.deepEqual(await names(ctx, msp.token), ['Stampede']);
      assertReplayOf(await post(ctx, msp.token, body, 'stampede-1'), created.find((r) => r.headers['idempotent-replayed'] === undefined) as Response);
    });

    test('a running claim is 409 while its heartbeat is fresh, however old; one whose heartbeat stopped over a minute ago is taken over', async (t) => {
      const ctx = await testApp(t, dialect.name);
      const msp = await seedMsp(ctx.db.store);
      const created = await post(ctx, msp.token, { name: 'Lease', contact_email: uniqueEmail() });
      const put = () => call(ctx.app, 'PUT', `/v2/managed_accounts/${created.body.token}`, { token: msp.token, body: { name: 'Leased' }, headers: { [KEY]: 'lease' } });
      assert.equal((await put()).status, 200);
      // Make the row look like a request that is still running (no response stored yet), claimed and last
      // heard from the given number of seconds ago.
      const running = (claimedAgo: number, heartbeatAgo: number | null) =>
        ctx.db.store.db
          .updateTable('idempotency_keys')
          .set({ status: null, response_body: null, response_headers: null, created_at: isoAgo(claimedAgo), heartbeat_at: heartbeatAgo === null ? null : isoAgo(heartbeatAgo) })
          .execute();
      for (const [claimedAgo, heartbeatAgo] of [[30, 30], [600, 10], [3 * 3600, 50]] as const) {
        await running(claimedAgo, heartbeatAgo);
        const busy = await put();
        assert.equal(busy.status, 409, `claimed ${claimedAgo} s ago, heartbeat ${heartbeatAgo} s ago`);
        assert.deepEqual(busy.body.errors, ['A request with this Idempotency-Key is still in progress; retry later']);
      }
      // A row without a heartbeat (not one Steward writes) counts from its creation.
      await running(30, null);
      assert.equal((await put()).status, 409);
      await running(120, null);
      assert.equal((await put()).status, 200, 'old claim without heartbeat taken over');

      await running(600, 90);
      const takenOver = await put();
      assert.equal(takenOver.status, 200, takenOver.raw);
      assert.equal(takenOver.headers['idempotent-replayed'], undefined, 'ran again');
      const [row] = await keyRows(ctx.db.store);
      assert.equal(row?.status, 200);
      assert.ok((row?.created_at ?? '') >= isoAgo(5), 'the claim was renewed: a new 24-hour window');
    });

    test('a request running longer than the takeover time keeps its claim alive: retries get 409 and it runs once', async (t) => {
      const ctx = await testApp(t, dialect.name);
      // Heartbeat every 200 ms, takeover after 2 s: the slow request below runs for 5 s.
      Object.assign(ctx.app.idempotencyTiming, { heartbeatMs: 200, abandonedAfterSeconds: 2 });
      slowDown(ctx);
      const msp = await seedMsp(ctx.db.store);
      const rule = { type: 'adjustment', title: 'Slow uplift', percentage: 105 };
      const create = (delayMs = 0) =>
        call(ctx.app, 'POST', '/v2/billing_rules', { token: msp.token, body: rule, headers: { [KEY]: 'slow-rule', 'x-test-delay-ms': String(delayMs) } });
      const titles = async () => (await call(ctx.app, 'GET', '/v2/billing_rules?limit=1000', { token: msp.token })).body.billing_rules.map((r: { title: string }) => r.title);

      const started = Date.now();
      const slow = create(5000);
      const retries: { at: number; status: number }[] = [];
      const heartbeats = new Set<string>();
      await sleep(300);
      while (Date.now() - started < 4000) {
        const res = await create();
        retries.push({ at: Date.now() - started, status: res.status });
        const [row] = await keyRows(ctx.db.store);
        if (row?.heartbeat_at) heartbeats.add(row.heartbeat_at);
        await sleep(400);
      }
      const first = await slow;
      t.diagnostic(`slow request took ${Date.now() - started} ms; retries at ${retries.map((r) => `${r.at} ms → ${r.status}`).join(', ')}; ${heartbeats.size} distinct heartbeats seen`);
      assert.equal(first.status, 201, first.raw);
      assert.deepEqual(new Set(retries.map((r) => r.status)), new Set([409]), 'every retry during the run is a 409');
      assert.ok(retries.some((r) => r.at >= 3500), 'retries continued well past the takeover time of 2 s');
      assert.ok(heartbeats.size >= 3, 'the heartbeat moved on while the request ran');
      assertReplayOf(await create(), first);
      assert.deepEqual((await titles()).filter((title: string) => title === 'Slow uplift'), ['Slow uplift'], 'one rule for one key');
    });

    test('a request whose client hung up keeps running and keeps its claim: retries get 409, then its stored response', async (t) => {
      const ctx = await testApp(t, dialect.name);
      Object.assign(ctx.app.idempotencyTiming, { heartbeatMs: 200, abandonedAfterSeconds: 2 });
      slowDown(ctx);
      const msp = await seedMsp(ctx.db.store);
      const baseUrl = await ctx.app.listen({ port: 0, host: '127.0.0.1' });
      const body = JSON.stringify({ name: 'Impatient Co', contact_email: uniqueEmail() });
      const headers = { authorization: `Bearer ${msp.token}`, 'content-type': 'application/json', [KEY]: 'hung-up' };
      // The client gives up after 300 ms of a 5 s request, as a client with a short timeout would.
      const abandoned = request(`${baseUrl}/v2/managed_accounts`, { method: 'POST', headers: { ...headers, 'x-test-delay-ms': '5000' } });
      const hungUp = new Promise<string>((resolve) => abandoned.on('error', (error) => resolve(error.message)));
      abandoned.end(body);
      await sleep(300);
      abandoned.destroy();
      await hungUp;
      const retry = () => ctx.app.inject({ method: 'POST', url: '/v2/managed_accounts', headers, payload: body });
      await sleep(2700); // past the takeover time, still inside the first request's run
      assert.equal((await retry()).statusCode, 409);
      await sleep(2500);
      const replay = await retry();
      assert.equal(replay.statusCode, 201, replay.body);
      assert.equal(replay.headers['idempotent-replayed'], 'true', 'the hung-up request finished and stored its response');
      assert.deepEqual(await names(ctx, msp.token), ['Impatient Co']);
    });

    test('after 24 hours a key is free again, and expired keys of the token are deleted', async (t) => {
      const ctx = await testApp(t, dialect.name);
      ctx.app.idempotencyTiming.sweepEverySeconds = 0; // sweep on every keyed request
      const msp = await seedMsp(ctx.db.store);
      assert.equal((await post(ctx, msp.token, { name: 'Yesterday', contact_email: uniqueEmail() }, 'daily')).status, 201);
      assert.equal((await post(ctx, msp.token, { name: 'Old other', contact_email: uniqueEmail() }, 'other-old-key')).status, 201);
      await ctx.db.store.db.updateTable('idempotency_keys').set({ created_at: isoAgo(25 * 3600) }).execute();
      const today = await post(ctx, msp.token, { name: 'Today', contact_email: uniqueEmail() }, 'daily');
      assert.equal(today.status, 201, 'a different body is no longer compared with the expired one');
      assert.deepEqual(await names(ctx, msp.token), ['Yesterday', 'Old other', 'Today']);
      assert.deepEqual((await keyRows(ctx.db.store)).map((r) => r.key), ['daily']);
    });

    test('a 5xx releases the key: the retry runs (and succeeds once the fault is gone)', async (t) => {
      const ctx = await testApp(t, dialect.name);
      const msp = await seedMsp(ctx.db.store);
      const body = { name: 'After outage', contact_email: uniqueEmail() };
      const repair = await breakAccountInserts(ctx.db.store);
      const failed = await post(ctx, msp.token, body, 'outage');
      assert.equal(failed.status, 500);
      assert.deepEqual(await keyRows(ctx.db.store), [], 'the claim was released');
      await repair();
      const retried = await post(ctx, msp.token, body, 'outage');
      assert.equal(retried.status, 201, retried.raw);
      assert.equal(retried.headers['idempotent-replayed'], undefined);
      assert.deepEqual(await names(ctx, msp.token), ['After outage']);
    });

    test('a 429 from the busy SQL checker releases the key: the retry after Retry-After runs', async (t) => {
      const ctx = await testApp(t, dialect.name);
      const msp = await seedMsp(ctx.db.store);
      const rule = (title: string, sql: string, key?: string) =>
        call(ctx.app, 'POST', '/v2/billing_rules', { token: msp.token, body: { type: 'custom', title, sql_query: sql }, ...(key ? { headers: { [KEY]: key } } : {}) });
      // This account's first statement keeps the checker busy for its 2 s limit …
      const slow = rule('Slow', 'UPDATE costs SET amount = ' + '(SELECT '.repeat(8) + ')'.repeat(8));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const busy = await rule('Keyed', 'DELETE FROM costs', 'sql-busy');
      assert.equal(busy.status, 429, busy.raw);
      assert.equal(busy.headers['retry-after'], '2');
      assert.deepEqual(await keyRows(ctx.db.store), [], 'the claim was released, not stored');
      assert.equal((await slow).status, 400);
      const retried = await rule('Keyed', 'DELETE FROM costs', 'sql-busy');
      assert.equal(retried.status, 201, retried.raw);
      assert.equal(retried.headers['idempotent-replayed'], undefined);
    });

    test('stored responses are sealed: a keyed billing profile leaves no banking secret in the row, and replays it byte for byte', async (t) => {
      const ctx = await testApp(t, dialect.name);
      const msp = await seedMsp(ctx.db.store);
      await setAccountInvoicing(ctx.db.store.db, msp.accountToken, true);
      const secure = { account_number: '9876543210123', routing_number: '021000021', iban: 'GB33BUKB20201555555555', swift_bic: 'BUKBGB22XYZ' };
      const create = () =>
        call(ctx.app, 'POST', '/v2/billing_profiles', {
          token: msp.token,
          body: { nickname: 'Sealed bank', banking_information_attributes: { bank_name: 'Barclays', secure_data: secure } },
          headers: { [KEY]: 'profile-1' },
        });
      const first = await create();
      assert.equal(first.status, 201, first.raw);
      assert.ok(first.raw.includes(secure.iban), 'the client gets its secure data back');
      const [row] = await keyRows(ctx.db.store);
      const stored = JSON.stringify(row);
      for (const value of [...Object.values(secure), 'Sealed bank', first.body.token]) assert.ok(!stored.includes(value), `${value} is not in the row`);
      // The request digest is keyed: a plain SHA-256 of the request (which anyone could compute from a guessed IBAN)
      // is not what is stored.
      const sorted = (v: unknown): unknown =>
        Array.isArray(v) ? v.map(sorted) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])])) : v;
      const body = { nickname: 'Sealed bank', banking_information_attributes: { bank_name: 'Barclays', secure_data: secure } };
      const plain = createHash('sha256').update(JSON.stringify(['POST', '/v2/billing_profiles', sorted(body)])).digest('hex');
      assert.match(row!.request_hash, /^[0-9a-f]{64}$/);
      assert.notEqual(row!.request_hash, plain);
      const replay = await create();
      assertReplayOf(replay, first);
      assert.equal(replay.body.banking_information_attributes.secure_data.iban, secure.iban);
      assert.equal((await call(ctx.app, 'GET', '/v2/billing_profiles', { token: msp.token })).body.billing_profiles.length, 1);

      // A sealed body is bound to its row: copied into another token's row it does not open (500, nothing leaks).
      const other = (await createApiToken(ctx.db.store.db, { accountToken: msp.accountToken, scopes: 'read,write', description: 'other' })).token;
      const otherCreate = () =>
        call(ctx.app, 'POST', '/v2/billing_profiles', { token: other, body: { nickname: 'Plain profile' }, headers: { [KEY]: 'profile-1' } });
      assert.equal((await otherCreate()).status, 201);
      const otherRow = (await keyRows(ctx.db.store))[1];
      await ctx.db.store.db
        .updateTable('idempotency_keys')
        .set({ response_body: row?.response_body ?? null, request_hash: otherRow?.request_hash ?? '' })
        .where('id', '=', otherRow?.id ?? 0)
        .execute();
      const copied = await otherCreate();
      assert.equal(copied.status, 500);
      assert.ok(!copied.raw.includes(secure.iban));
    });

    test('expired keys of every token are deleted by a later keyed request, at most once per sweep interval', async (t) => {
      const ctx = await testApp(t, dialect.name);
      const { db } = ctx.db.store;
      const msp = await seedMsp(ctx.db.store);
      // Another account's token, which never sends a key again (a short-lived OAuth token, say).
      const other = await createApiToken(db, { accountToken: (await createAccount(db, { name: 'MSP B', msp: true })).token, scopes: 'read,write' });
      const otherId = (await db.selectFrom('api_tokens').select('id').where('token_hash', '=', hashApiToken(other.token)).executeTakeFirstOrThrow()).id;
      const otherKey = (key: string, hoursAgo: number) =>
        db
          .insertInto('idempotency_keys')
          .values({ api_token_id: otherId, key, request_hash: 'x', status: 201, response_body: null, response_headers: '{}', created_at: isoAgo(hoursAgo * 3600), heartbeat_at: null })
          .execute();
      const keys = async () => (await keyRows(ctx.db.store)).map((r) => r.key);
      await otherKey('expired-1', 25);
      await otherKey('recent', 23);
      assert.equal((await post(ctx, msp.token, { name: 'Sweeper', contact_email: uniqueEmail() }, 'sweep-1')).status, 201);
      assert.deepEqual(await keys(), ['recent', 'sweep-1'], "the other token's expired key is gone, its recent one kept");

      // Within the interval (60 s by default) a later keyed request does not sweep again.
      await otherKey('expired-2', 25);
      assert.equal((await post(ctx, msp.token, { name: 'Too soon', contact_email: uniqueEmail() }, 'sweep-2')).status, 201);
      assert.deepEqual(await keys(), ['recent', 'sweep-1', 'expired-2', 'sweep-2']);
      ctx.app.idempotencyTiming.sweepEverySeconds = 0;
      assert.equal((await post(ctx, msp.token, { name: 'Later', contact_email: uniqueEmail() }, 'sweep-3')).status, 201);
      assert.deepEqual(await keys(), ['recent', 'sweep-1', 'sweep-2', 'sweep-3']);
    });
  });
}
