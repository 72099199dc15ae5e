import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { migrationStatus, openStore } from '../src/store/database.ts';
import { DIALECTS, freshDatabase, seedMsp } from './helpers/app.ts';
import { jsonOf, runSteward, steward } from './helpers/cli.ts';
import { send, startServe } from './helpers/serve.ts';

/** `steward migrate` ahead of a rollout, `serve --no-migrate` waiting (not ready) until it has run, and `steward backup`. */
for (const dialect of DIALECTS) {
  describe(`steward migrate [${dialect.name}]`, { skip: dialect.skip }, () => {
    test('applies every migration once, says so, and on a second run says the schema is current', async (t) => {
      const db = await freshDatabase(dialect.name, {}, { migrated: false });
      t.after(() => db.close());
      const first = jsonOf(await steward(db, 'migrate', '--json'));
      const status = await migrationStatus(db.store);
      assert.deepEqual(status.pending, []);
      assert.ok(status.applied.length >= 3);
      assert.deepEqual(first, { applied: status.applied, current: status.applied });

      const again = await steward(db, 'migrate');
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /^database schema is current \(.+\)\n$/);
      assert.deepEqual(jsonOf(await steward(db, 'migrate', '--json')), { applied: [], current: status.applied });
    });

    test('serve --no-migrate on an unmigrated database listens but serves no API (503, /readyz names the migrations) until steward migrate runs elsewhere', async (t) => {
      const db = await freshDatabase(dialect.name, {}, { migrated: false });
      t.after(() => db.close());
      const server = startServe(db.url, ['--no-migrate'], { ...db.env, STEWARD_ENCRYPTION_KEY: randomBytes(32).toString('hex') });
      t.after(() => server.stop());
      const origin = await server.listening();
      assert.match(server.stdout(), /not serving the API yet: migrations not applied: 0001_initial, .+ \(run `steward migrate`\)/);
      assert.deepEqual((await migrationStatus(db.store)).applied, [], 'serve --no-migrate did not migrate');

      assert.equal((await send(origin, 'GET', '/healthz')).status, 200, 'alive');
      const notReady = await send(origin, 'GET', '/readyz');
      assert.equal(notReady.status, 503);
      assert.match(notReady.status === 503 ? notReady.body.errors[0] : '', /^migrations not applied: 0001_initial, .+ \(run `steward migrate`\)$/);
      const api = await send(origin, 'GET', '/v2/managed_accounts', { token: `vntg_tkn_${'0'.repeat(40)}` });
      assert.equal(api.status, 503);
      assert.equal(api.status === 503 && api.headers['retry-after'], '5');
      assert.match(api.status === 503 ? api.body.errors[0] : '', /^this Steward instance is not serving yet: migrations not applied: /);

      const migrated = jsonOf(await steward(db, 'migrate', '--json'));
      assert.ok(migrated.applied.length >= 3);
      const msp = await seedMsp(db.store);
      let ready = await send(origin, 'GET', '/readyz');
      for (let i = 0; i < 100 && ready.status !== 200; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        ready = await send(origin, 'GET', '/readyz');
      }
      assert.deepEqual(ready.status === 200 && ready.body, { status: 'ready', database: 'ok', migrations: { applied: migrated.applied.length, pending: [] } });
      const served = await send(origin, 'GET', '/v2/managed_accounts', { token: msp.token });
      assert.equal(served.status, 200, 'the API is served once migrated');
    });
  });
}

describe('steward backup', () => {
  test('SQLite: a consistent copy while the server takes writes; every account created before it began is in the copy', async (t) => {
    const db = await freshDatabase('sqlite');
    t.after(() => db.close());
    const msp = await seedMsp(db.store);
    const server = startServe(db.url, [], { STEWARD_ENCRYPTION_KEY: randomBytes(32).toString('hex') });
    t.after(() => server.stop());
    const origin = await server.listening();
    const create = (name: string) => send(origin, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name, contact_email: `${name.toLowerCase()}-${randomBytes(3).toString('hex')}@example.com` } });
    const before: string[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await create(`Before${i}`);
      assert.equal(res.status, 201);
      if (res.status === 201) before.push(res.body.token);
    }
    let writing = true;
    const during = (async () => {
      let n = 0;
      while (writing) assert.equal((await create(`During${n++}`)).status, 201);
      return n;
    })();
    const target = join(dirname(db.url), 'backup.sqlite');
    const run = await runSteward(db.url, ['backup', '--to', target]);
    writing = false;
    const written = await during;
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Backed up .+ to .+backup\.sqlite \(keep the encryption key/);

    assert.equal(statSync(target).mode & 0o777, 0o600, 'readable by its owner only');
    const copy = await openStore(target);
    t.after(() => copy.close());
    const tokens = (await copy.db.selectFrom('accounts').select('token').execute()).map((r) => r.token);
    for (const token of before) assert.ok(tokens.includes(token), `${token} is in the copy`);
    assert.deepEqual((await migrationStatus(copy)).pending, []);
    console.log(`# backup: ${tokens.length} accounts in the copy; ${written} creates ran during the backup`);

    const again = await runSteward(db.url, ['backup', '--to', target]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^steward: \S+backup\.sqlite already exists; choose a new file\n$/, 'one line, no usage text');
  });

  test('PostgreSQL: refused, pointing to pg_dump', async () => {
    const run = await runSteward('postgres://postgres@127.0.0.1:1/none', ['backup', '--to', '/tmp/never.sqlite']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^steward: backup copies SQLite files; for PostgreSQL use pg_dump --format=custom \(see docs\/deploy\.md\)\n$/);
  });
});

describe('steward serve settings', () => {
  test('a bad setting stops the start and names the environment variable to fix', async () => {
    for (const [name, value, message] of [
      ['STEWARD_PG_POOL_MAX', '1e3', 'invalid configuration pgPoolMax (STEWARD_PG_POOL_MAX): "1e3" is not a whole number written in digits'],
      ['STEWARD_MIGRATE_ON_START', 'no', 'invalid configuration migrateOnStart (STEWARD_MIGRATE_ON_START): "no" must be true or false (or 1 or 0)'],
      ['STEWARD_SHUTDOWN_TIMEOUT_SECONDS', '0', 'invalid configuration shutdownTimeoutSeconds (STEWARD_SHUTDOWN_TIMEOUT_SECONDS): Expected integer to be greater or equal to 1'],
    ] as const) {
      const run = await runSteward('/nonexistent/never-created.sqlite', ['serve', '--port', '0'], { [name]: value });
      assert.equal(run.code, 1, `${name}: ${run.stderr}`);
      assert.equal(run.stderr, `steward: ${message}\n`);
      assert.equal(run.stdout, '');
    }
  });
});
