import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test, type TestContext } from 'node:test';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import pg from 'pg';
import { buildApp } from '../src/app.ts';
import { parseConfig } from '../src/config.ts';
import { createOauthClient } from '../src/domain/oauth.ts';
import { openStore, type OpenOptions } from '../src/store/database.ts';
import { call, DIALECTS, freshDatabase, seedMsp, uniqueEmail, type TestDatabase } from './helpers/app.ts';

/**
 * What a request gets when the database cannot do its work in time (issue 5): a statement or lock wait past the
 * statement timeout, no free pool connection, SQLite's write lock held by another process. Always a 503 with
 * Retry-After that says nothing was saved, and indeed nothing is; never a 500.
 */

const KEY = randomBytes(32).toString('hex');

/**
 * Cleanups run last-registered first: the lock must be released before the apps close and the schema is dropped
 * (dropping it would wait for the lock forever), whichever assertion failed. node:test runs t.after hooks first-in first-out.
 */
function cleanups(t: TestContext): (cleanup: () => unknown) => void {
  const stack: Array<() => unknown> = [];
  t.after(async () => {
    for (const cleanup of stack.reverse()) await cleanup();
  });
  return (cleanup) => stack.push(cleanup);
}

type Later = ReturnType<typeof cleanups>;

async function appOn(later: Later, store: TestDatabase['store']) {
  const app = await buildApp({ config: parseConfig({ logLevel: 'silent', publicUrl: 'https://steward.test', encryptionKey: KEY }), store });
  later(() => app.close());
  return app;
}

async function database(later: Later, dialect: 'sqlite' | 'postgres', open: Omit<OpenOptions, 'pgSchema'>): Promise<TestDatabase> {
  const db = await freshDatabase(dialect, open);
  later(() => db.close());
  return db;
}

/**
 * Another session holding `tables` (as a long migration or a careless manual transaction would); on SQLite, the
 * whole database's write lock.
 */
async function lockTables(later: Later, db: TestDatabase, tables = 'accounts'): Promise<() => Promise<void>> {
  let release: () => Promise<void>;
  if (db.store.dialect === 'postgres') {
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    await blocker.query('begin');
    await blocker.query(`lock table ${tables} in exclusive mode`);
    release = async () => {
      await blocker.query('rollback');
      await blocker.end();
    };
  } else {
    const blocker = new SQLite(db.url);
    blocker.exec('begin immediate');
    release = async () => {
      blocker.exec('rollback');
      blocker.close();
    };
  }
  let released = false;
  const once = async () => {
    if (released) return;
    released = true;
    await release();
  };
  later(once);
  return once;
}

const BUSY = /^the database is busy: this request waited too long and was stopped before anything was saved; retry shortly$/;
const UNAVAILABLE = /^the database is unavailable: nothing was saved; retry shortly$/;

for (const dialect of DIALECTS) {
  describe(`when the database is too slow [${dialect.name}]`, { skip: dialect.skip }, () => {
    test('a write that waits past the timeout gets 503 with Retry-After, saves nothing, and succeeds when retried later', async (t) => {
      const later = cleanups(t);
      const db = await database(later, dialect.name, { postgres: { statementTimeoutMs: 300 }, sqliteBusyTimeoutMs: 300 });
      const app = await appOn(later, db.store);
      const msp = await seedMsp(db.store);
      await call(app, 'GET', '/v2/me', { token: msp.token }); // auth's once-a-minute last-used write, out of the way
      const body = { name: 'Patient Corp', contact_email: uniqueEmail() };
      const release = await lockTables(later, db);
      const stopped = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body });
      assert.equal(stopped.status, 503, stopped.raw);
      assert.equal(stopped.headers['retry-after'], '1');
      assert.equal(stopped.body.errors.length, 1);
      assert.match(stopped.body.errors[0], BUSY);
      await release();
      const listed = (await call(app, 'GET', '/v2/managed_accounts', { token: msp.token })).body.managed_accounts as Array<{ name: string }>;
      assert.deepEqual(listed.filter((a) => a.name === body.name), [], 'nothing was saved');
      const audit = (await call(app, 'GET', '/v2/audit_logs?object_type=managed_account', { token: msp.token })).body.audit_logs as unknown[];
      assert.deepEqual(audit, [], 'nor audited');
      const retried = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body });
      assert.equal(retried.status, 201, retried.raw);
    });

    test('an OAuth token request that waits past the timeout gets 503 temporarily_unavailable', async (t) => {
      const later = cleanups(t);
      const db = await database(later, dialect.name, { postgres: { statementTimeoutMs: 300 }, sqliteBusyTimeoutMs: 300 });
      const app = await appOn(later, db.store);
      const msp = await seedMsp(db.store);
      const client = await createOauthClient(db.store.db, { accountToken: msp.accountToken, scopes: 'read', description: 'ci' });
      const release = await lockTables(later, db, 'api_tokens');
      const res = await app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: `grant_type=client_credentials&client_id=${client.client_id}&client_secret=${client.client_secret}`,
      });
      await release();
      assert.equal(res.statusCode, 503, res.body);
      assert.equal(res.headers['retry-after'], '1');
      const body = JSON.parse(res.body) as { error: string; error_description: string; errors: string[] };
      assert.equal(body.error, 'temporarily_unavailable');
      assert.match(body.error_description, BUSY);
      assert.deepEqual(body.errors, [body.error_description]);
    });
  });
}

describe('PostgreSQL pool limits', { skip: DIALECTS[1]?.skip }, () => {
  test('per-request queries run as named prepared statements, and not with preparedStatements off (for PgBouncer in transaction mode)', async (t) => {
    const later = cleanups(t);
    for (const preparedStatements of [true, false]) {
      // One pool connection: the requests and the look at pg_prepared_statements (per session) share it.
      const db = await database(later, 'postgres', { postgres: { poolMax: 1, preparedStatements } });
      const app = await appOn(later, db.store);
      const msp = await seedMsp(db.store);
      const listed = await call(app, 'GET', '/v2/managed_accounts', { token: msp.token });
      assert.equal(listed.status, 200, listed.raw);
      const created = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: 'Prepared', contact_email: uniqueEmail() } });
      assert.equal(created.status, 201, created.raw);
      const got = await call(app, 'GET', `/v2/managed_accounts/${created.body.token}`, { token: msp.token });
      assert.equal(got.body.name, 'Prepared');
      const names = await sql<{ name: string }>`select name from pg_prepared_statements where name like 'steward_%'`.execute(db.store.db);
      if (preparedStatements) assert.ok(names.rows.length >= 3, `token, page, count, account…: ${JSON.stringify(names.rows)}`);
      else assert.deepEqual(names.rows, []);
    }
  });

  test('with every pool connection busy, a request that cannot get one within the connect timeout gets 503', async (t) => {
    const later = cleanups(t);
    const db = await database(later, 'postgres', { postgres: { poolMax: 1, connectTimeoutMs: 200, statementTimeoutMs: 10_000 } });
    const app = await appOn(later, db.store);
    const msp = await seedMsp(db.store);
    await call(app, 'GET', '/v2/me', { token: msp.token });
    const release = await lockTables(later, db);
    const holding = call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: 'Holder', contact_email: uniqueEmail() } });
    await new Promise((resolve) => setTimeout(resolve, 300)); // the create now holds the only connection, waiting on the lock
    const starved = await call(app, 'GET', '/v2/managed_accounts', { token: msp.token });
    assert.equal(starved.status, 503, starved.raw);
    assert.equal(starved.headers['retry-after'], '1');
    assert.match(starved.body.errors[0], UNAVAILABLE);
    const ready = await call(app, 'GET', '/readyz');
    assert.equal(ready.status, 200, `a busy pool is load, not unreadiness: ${ready.raw}`);
    await release();
    assert.equal((await holding).status, 201);
  });

  test("an exhausted pool does not starve an Idempotency-Key's heartbeat: another process's retry gets 409, not a second run", async (t) => {
    const later = cleanups(t);
    const db = await database(later, 'postgres', { postgres: { poolMax: 1, connectTimeoutMs: 10_000, statementTimeoutMs: 20_000 } });
    const busy = await appOn(later, db.store); // its single connection will be held by the create below
    // Another Steward process, in effect: its own store (and pool, default size) on the same schema.
    const otherStore = await openStore(db.url);
    later(() => otherStore.close());
    const other = await appOn(later, otherStore);
    Object.assign(busy.idempotencyTiming, { heartbeatMs: 200 });
    Object.assign(other.idempotencyTiming, { abandonedAfterSeconds: 1 });
    const msp = await seedMsp(db.store);
    await call(busy, 'GET', '/v2/me', { token: msp.token });
    const body = { name: 'Once Only', contact_email: uniqueEmail() };
    const headers = { 'idempotency-key': `once-${randomBytes(4).toString('hex')}` };
    const release = await lockTables(later, db);
    const first = call(busy, 'POST', '/v2/managed_accounts', { token: msp.token, body, headers });
    await new Promise((resolve) => setTimeout(resolve, 2500)); // > abandonedAfterSeconds: only heartbeats keep the claim
    const retry = await call(other, 'POST', '/v2/managed_accounts', { token: msp.token, body, headers });
    assert.equal(retry.status, 409, retry.raw);
    await release();
    const created = await first;
    assert.equal(created.status, 201, created.raw);
    const replay = await call(other, 'POST', '/v2/managed_accounts', { token: msp.token, body, headers });
    assert.equal(replay.status, 201);
    assert.equal(replay.body.token, created.body.token);
    const listed = (await call(other, 'GET', '/v2/managed_accounts', { token: msp.token })).body.managed_accounts as Array<{ name: string }>;
    assert.equal(listed.filter((a) => a.name === body.name).length, 1, 'run once');
  });

  test('an Idempotency-Key whose release fails (the database still busy) is released in the background, so a retry runs instead of getting 409', async (t) => {
    const later = cleanups(t);
    const db = await database(later, 'postgres', { postgres: { statementTimeoutMs: 1000 } });
    const app = await appOn(later, db.store);
    Object.assign(app.idempotencyTiming, { finishRetryMs: 200 });
    const msp = await seedMsp(db.store);
    await call(app, 'GET', '/v2/me', { token: msp.token });
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    let locked = true;
    const unlock = async () => {
      if (!locked) return;
      locked = false;
      await blocker.query('commit');
      await blocker.end();
    };
    later(unlock);
    await blocker.query('begin');
    await blocker.query('lock table accounts in exclusive mode');
    const body = { name: 'Eventually', contact_email: uniqueEmail() };
    const headers = { 'idempotency-key': `later-${randomBytes(4).toString('hex')}` };
    const first = call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body, headers });
    // Once the key is claimed (the create now waits on the accounts lock), hold the keys table too: the release
    // that follows the create's 503 times out as well.
    while (Number((await blocker.query('select count(*) as n from idempotency_keys')).rows[0].n) === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    await blocker.query('lock table idempotency_keys in exclusive mode');
    const stopped = await first;
    assert.equal(stopped.status, 503, stopped.raw);
    await unlock();
    let retry = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body, headers });
    for (let i = 0; i < 50 && retry.status === 409; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      retry = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body, headers });
    }
    assert.equal(retry.status, 201, `the retry ran once the key was released in the background: ${retry.raw}`);
    assert.equal(retry.headers['idempotent-replayed'], undefined);
  });
});
