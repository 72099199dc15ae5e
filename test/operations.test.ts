import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { Registry } from 'prom-client';
import { buildApp } from '../src/app.ts';
import { parseConfig } from '../src/config.ts';
import type { Lifecycle } from '../src/http/operations.ts';
import { dropPgSchema, migrate, migrationStatus, openStore, type Store } from '../src/store/database.ts';
import { call, DIALECTS, freshDatabase, listeningApp, seedMsp, testApp, uniqueEmail, type DialectUnderTest } from './helpers/app.ts';

/** Issue 5 item 4: GET /healthz, /readyz and /metrics, for load balancers and Prometheus. */

const PG_URL = process.env.TEST_DATABASE_URL;
const PROMETHEUS_CONTENT_TYPE = new Registry().contentType;

const testConfig = () => parseConfig({ logLevel: 'silent', publicUrl: 'https://steward.test', encryptionKey: randomBytes(32).toString('hex') });

/** The app on a store the test opened itself (not migrated, or unreachable), closed when the test ends. */
async function appOn(t: TestContext, store: Store, lifecycle?: Lifecycle) {
  const app = await buildApp({ config: testConfig(), store, ...(lifecycle ? { lifecycle } : {}) });
  t.after(() => app.close());
  return app;
}

/** A store with no migrations run: a new SQLite file, or a new Postgres schema. */
async function unmigratedStore(t: TestContext, dialect: DialectUnderTest['name']): Promise<Store> {
  if (dialect === 'postgres') {
    const schema = `steward_test_${randomBytes(6).toString('hex')}`;
    const store = await openStore(PG_URL!, { pgSchema: schema });
    t.after(async () => {
      await store.close();
      await dropPgSchema(PG_URL!, schema);
    });
    return store;
  }
  const dir = mkdtempSync(join(tmpdir(), 'steward-test-'));
  const store = await openStore(join(dir, 'steward.sqlite'));
  t.after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return store;
}

/** The sample lines of a Prometheus text exposition (no HELP/TYPE comments). */
const samples = (text: string) => text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));

for (const dialect of DIALECTS) {
  describe(`operations endpoints [${dialect.name}]`, { skip: dialect.skip }, () => {
    test('GET /healthz: 200 {"status":"ok"}, no token, not rate limited, the usual headers; other methods 405', async (t) => {
      const { app } = await testApp(t, dialect.name, { rateLimitMax: 2 });
      for (let i = 0; i < 4; i += 1) {
        const res = await call(app, 'GET', '/healthz');
        assert.equal(res.status, 200, res.raw);
        assert.deepEqual(res.body, { status: 'ok' });
        assert.match(String(res.headers['content-type']), /^application\/json/);
        assert.ok(res.headers['x-request-id'], 'x-request-id is set');
        assert.equal(res.headers['x-content-type-options'], 'nosniff');
        assert.equal(res.headers['cache-control'], 'no-store');
        assert.equal(res.headers['x-rate-limit-limit'], undefined);
      }
      // The same limit does apply to /v2, so the probes above were exempt, not merely under it.
      assert.equal((await call(app, 'GET', '/v2/ping')).headers['x-rate-limit-limit'], '2');

      const post = await call(app, 'POST', '/healthz', { body: {} });
      assert.equal(post.status, 405, post.raw);
      assert.match(String(post.headers.allow), /GET/);
      assert.ok(Array.isArray(post.body.errors));
      for (const path of ['/readyz', '/metrics']) assert.equal((await call(app, 'DELETE', path)).status, 405);
    });

    test('GET /readyz: 200 with every migration applied and none pending, without a token', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const expected = await migrationStatus(db.store);
      assert.ok(expected.applied.length >= 3);
      assert.deepEqual(expected.pending, []);
      for (let i = 0; i < 2; i += 1) {
        const res = await call(app, 'GET', '/readyz');
        assert.equal(res.status, 200, res.raw);
        assert.deepEqual(res.body, { status: 'ready', database: 'ok', migrations: { applied: expected.applied.length, pending: [] } });
        assert.equal(res.headers['cache-control'], 'no-store');
        assert.equal(res.headers['x-rate-limit-limit'], undefined);
        assert.ok(res.headers['x-request-id']);
      }
    });

    test('GET /readyz while draining: 503 naming the shutdown; /healthz stays 200', async (t) => {
      const db = await freshDatabase(dialect.name);
      t.after(() => db.close());
      const lifecycle: Lifecycle = { draining: false };
      const app = await appOn(t, db.store, lifecycle);
      assert.equal((await call(app, 'GET', '/readyz')).status, 200);

      lifecycle.draining = true;
      const res = await call(app, 'GET', '/readyz');
      assert.equal(res.status, 503, res.raw);
      assert.equal(res.body.status, 'not_ready');
      assert.equal(res.body.errors.length, 1);
      assert.match(res.body.errors[0], /shutting down/);
      assert.equal(res.headers.connection, 'close');
      assert.equal((await call(app, 'GET', '/healthz')).status, 200);
    });

    test('GET /readyz before migrations: 503 naming each pending migration; after `migrate` 200 at once', async (t) => {
      const store = await unmigratedStore(t, dialect.name);
      const app = await appOn(t, store);
      const { applied, pending } = await migrationStatus(store);
      assert.deepEqual(applied, []);
      assert.ok(pending.length >= 3);

      for (let i = 0; i < 2; i += 1) {
        const res = await call(app, 'GET', '/readyz');
        assert.equal(res.status, 503, res.raw);
        assert.equal(res.body.status, 'not_ready');
        assert.equal(res.body.errors.length, 1);
        for (const name of pending) assert.ok(res.body.errors[0].includes(name), `${name} in ${res.body.errors[0]}`);
        assert.match(res.body.errors[0], /steward migrate/);
      }

      await migrate(store);
      const res = await call(app, 'GET', '/readyz');
      assert.equal(res.status, 200, res.raw);
      assert.deepEqual(res.body, { status: 'ready', database: 'ok', migrations: { applied: pending.length, pending: [] } });
    });

    test('GET /metrics: requests by method, route pattern and status (early refusals and 404s too), never a raw path', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const created = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: 'Globex', contact_email: uniqueEmail() } });
      assert.equal(created.status, 201, created.raw);
      const accountToken: string = created.body.token;
      assert.equal((await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: {} })).status, 400);
      assert.equal((await call(app, 'GET', '/v2/managed_accounts')).status, 401);
      assert.equal((await call(app, 'GET', `/no/such/path/${accountToken}`)).status, 404);
      assert.equal((await call(app, 'GET', `/v2/managed_accounts/${accountToken}`, { token: msp.token })).status, 200);

      const scrape = await app.inject({ method: 'GET', url: '/metrics' });
      assert.equal(scrape.statusCode, 200, scrape.body);
      assert.equal(scrape.headers['content-type'], PROMETHEUS_CONTENT_TYPE);
      assert.ok(scrape.headers['x-request-id']);
      assert.equal(scrape.headers['x-rate-limit-limit'], undefined);
      const lines = samples(scrape.body);
      const requests = lines.filter((line) => line.startsWith('steward_http_requests_total{'));
      assert.deepEqual(requests.sort(), [
        'steward_http_requests_total{method="GET",route="/v2/managed_accounts",status="401"} 1',
        'steward_http_requests_total{method="GET",route="/v2/managed_accounts/:managed_account_token",status="200"} 1',
        'steward_http_requests_total{method="GET",route="unmatched",status="404"} 1',
        'steward_http_requests_total{method="POST",route="/v2/managed_accounts",status="201"} 1',
        'steward_http_requests_total{method="POST",route="/v2/managed_accounts",status="400"} 1',
      ]);
      assert.ok(lines.includes('steward_http_request_duration_seconds_count{method="POST",route="/v2/managed_accounts",status="201"} 1'));
      assert.ok(lines.includes('steward_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="unmatched",status="404"} 1'));
      assert.ok(lines.some((line) => /^steward_http_request_duration_seconds_bucket\{le="0\.001",method="GET",route="unmatched",status="404"\} [01]$/.test(line)));
      // The scrape itself is in flight while it renders; everything before it has left.
      assert.ok(lines.includes('steward_http_requests_in_flight 1'), scrape.body);
      assert.ok(!scrape.body.includes(accountToken), 'no raw path or token in the metrics');
      assert.ok(!scrape.body.includes(msp.token));
      assert.ok(!scrape.body.includes('/no/such/path'));
      assert.ok(!scrape.body.includes('steward_process_'), 'process metrics are off unless asked for');

      if (dialect.name === 'postgres') {
        for (const state of ['total', 'idle', 'waiting']) {
          assert.ok(lines.some((line) => new RegExp(`^steward_db_pool_connections\\{state="${state}"\\} \\d+$`).test(line)), `${state} in ${scrape.body}`);
        }
        assert.ok(lines.includes('steward_db_pool_max 10'));
      } else {
        assert.ok(!scrape.body.includes('steward_db_pool'), 'SQLite has no pool to report');
      }

      // A second scrape counts the first like any request.
      const again = samples((await app.inject({ method: 'GET', url: '/metrics' })).body);
      assert.ok(again.includes('steward_http_requests_total{method="GET",route="/metrics",status="200"} 1'));
      assert.ok(again.includes('steward_http_requests_in_flight 1'));
    });

    test('GET /metrics counts requests the rate limiter refuses (429), and each app keeps its own counts', async (t) => {
      const { app } = await testApp(t, dialect.name, { rateLimitMax: 1 });
      const { app: other } = await testApp(t, dialect.name);
      assert.equal((await call(app, 'GET', '/v2/ping')).status, 200);
      assert.equal((await call(app, 'GET', '/v2/ping')).status, 429);
      const lines = samples((await app.inject({ method: 'GET', url: '/metrics' })).body);
      assert.ok(lines.includes('steward_http_requests_total{method="GET",route="/v2/ping",status="200"} 1'));
      assert.ok(lines.includes('steward_http_requests_total{method="GET",route="/v2/ping",status="429"} 1'));
      const otherLines = samples((await other.inject({ method: 'GET', url: '/metrics' })).body);
      assert.ok(!otherLines.some((line) => line.startsWith('steward_http_requests_total{')), otherLines.join('\n'));
    });

    test('GET /metrics: requests whose clients hang up mid-body leave the in-flight gauge exactly once', async (t) => {
      const { app, baseUrl } = await listeningApp(t, dialect.name);
      // The server's end of each connection, by the client's port: its 'close' means the server has seen the hang-up.
      const serverEnds = new Map<number, Promise<unknown>>();
      app.server.on('connection', (socket: Socket) => serverEnds.set(socket.remotePort!, once(socket, 'close')));
      const inFlight = async () => {
        const text = await (await fetch(`${baseUrl}/metrics`)).text();
        return samples(text).find((line) => line.startsWith('steward_http_requests_in_flight '));
      };
      const sockets: Socket[] = [];
      for (let i = 0; i < 5; i += 1) {
        const socket = connect(Number(new URL(baseUrl).port), '127.0.0.1');
        await once(socket, 'connect');
        // Half of the announced body: the server is left reading a body that never comes.
        socket.write('POST /oauth/token HTTP/1.1\r\nHost: steward.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=cl');
        sockets.push(socket);
      }
      assert.equal(await inFlight(), 'steward_http_requests_in_flight 6', 'five stuck requests and the scrape');
      for (const socket of sockets) socket.destroy();
      await Promise.all(sockets.map((socket) => serverEnds.get(socket.localPort!)));
      assert.equal(await inFlight(), 'steward_http_requests_in_flight 1', 'only the scrape');
    });

    test('GET /metrics with processMetrics: Node process metrics, prefixed steward_', async (t) => {
      const db = await freshDatabase(dialect.name);
      t.after(() => db.close());
      const app = await buildApp({ config: testConfig(), store: db.store, processMetrics: true });
      t.after(() => app.close());
      const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(text, /^steward_process_cpu_user_seconds_total \d/m);
      assert.match(text, /^steward_nodejs_heap_size_used_bytes \d/m);
    });
  });
}

describe('GET /readyz when the database is down or hung (Postgres driver, no database needed)', () => {
  const PASSWORD = 'hunter2-not-for-logs';

  /** A TCP listener standing in for Postgres: refusing (closed right away) or hung (accepts, never answers). */
  async function fakeDatabase(t: TestContext): Promise<number> {
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    });
    return (server.address() as { port: number }).port;
  }

  /** A port nothing listens on: one the system just handed out and took back. */
  async function closedPort(): Promise<number> {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as { port: number };
    await new Promise((resolve) => probe.close(resolve));
    return port;
  }

  async function storeAt(t: TestContext, port: number): Promise<Store> {
    const store = await openStore(`postgres://steward:${PASSWORD}@127.0.0.1:${port}/steward`, { postgres: { connectTimeoutMs: 30_000 } });
    // Runs after the fake server's cleanup (hooks run in the order registered), which cuts the hung connection;
    // otherwise closing the pool would wait out the connect timeout.
    t.after(() => store.close());
    return store;
  }

  test('nothing listening: 503 "database unreachable", without the connection string', async (t) => {
    const store = await storeAt(t, await closedPort());
    const app = await appOn(t, store);
    const res = await call(app, 'GET', '/readyz');
    assert.equal(res.status, 503, res.raw);
    assert.equal(res.body.status, 'not_ready');
    assert.deepEqual(res.body.errors, ['database unreachable (ECONNREFUSED)']);
    assert.ok(!res.raw.includes(PASSWORD) && !res.raw.includes('postgres://'));
    assert.equal((await call(app, 'GET', '/healthz')).status, 200);
  });

  test('a database that never answers: 503 after the check times out, not a hung probe', async (t) => {
    const port = await fakeDatabase(t);
    const store = await storeAt(t, port);
    const app = await appOn(t, store);
    const [first, second] = await Promise.all([call(app, 'GET', '/readyz'), call(app, 'GET', '/readyz')]);
    for (const res of [first, second]) {
      assert.equal(res.status, 503, res.raw);
      assert.deepEqual(res.body, { status: 'not_ready', errors: ['database did not answer within 2 s'] });
    }
    const lines = samples((await app.inject({ method: 'GET', url: '/metrics' })).body);
    assert.ok(lines.includes('steward_http_requests_total{method="GET",route="/readyz",status="503"} 2'));
    assert.ok(lines.includes('steward_http_requests_in_flight 1'));
  });
});
