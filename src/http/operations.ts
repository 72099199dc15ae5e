import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { errors } from '../domain/errors.ts';
import { migrationStatus, type MigrationStatus, type Store } from '../store/database.ts';
import { surfaceOf } from './surface.ts';

/** What the process is doing, shared by the server (which sets it) and the operations routes (which report it). */
export interface Lifecycle {
  /** SIGTERM received: /readyz answers 503 and every response asks the client to close its connection. */
  draining: boolean;
  /**
   * Why this instance cannot serve the API yet (serve --no-migrate on a database that still lacks migrations), or
   * null. While set, /readyz answers 503 with it and /v2 and /oauth requests get a 503 naming it.
   */
  blocked?: string | null;
}

export interface OperationsDeps {
  store: Store;
  lifecycle: Lifecycle;
  /** Also export Node's process metrics (CPU, memory, event loop): on for a real server, off for the many apps tests build. */
  processMetrics: boolean;
}

/** A database that has not answered the readiness check by then is reported as not ready, not waited for. */
const DATABASE_CHECK_TIMEOUT_MS = 2000;
/** Migrations only change when a (new) process runs `steward migrate`; a clean result is re-read this often. */
const CLEAN_MIGRATIONS_TTL_MS = 10_000;
/** Seconds, from 1 ms to 10 s: most answers take a few milliseconds; anything near 10 s is a stuck dependency. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** The route label of requests no route matched: the raw path would be unbounded and may carry tokens. */
const UNMATCHED = 'unmatched';

const ReadySchema = Type.Object({
  status: Type.Literal('ready'),
  database: Type.Literal('ok'),
  migrations: Type.Object({ applied: Type.Integer(), pending: Type.Array(Type.String()) }),
});
const NotReadySchema = Type.Object({ status: Type.Literal('not_ready'), errors: Type.Array(Type.String()) });

/**
 * GET /healthz, /readyz and /metrics (Prometheus), outside /v2: no token, no rate limit, not in the OpenAPI
 * document. Also the hooks that count requests by route and status: registered before the rate limiter's and
 * auth's hooks, so requests those refuse (429, 401) are counted too.
 */
export async function registerOperations(app: FastifyInstance, deps: OperationsDeps): Promise<void> {
  // One registry per app, never prom-client's global one: tests build hundreds of apps in one process.
  const register = new Registry();
  registerRequestMetrics(app, register);
  registerPoolMetrics(register, deps.store);
  if (deps.processMetrics) collectDefaultMetrics({ register, prefix: 'steward_' });
  const readiness = readinessCheck(deps);

  // Before the rate limiter and auth (which would read tables that may not exist yet): nothing of the API runs
  // until the instance can serve it.
  app.addHook('onRequest', async (request) => {
    if (deps.lifecycle.blocked && surfaceOf(request)) throw errors.notServingYet(deps.lifecycle.blocked);
  });

  app.get(
    '/healthz',
    { schema: { hide: true, response: { 200: Type.Object({ status: Type.Literal('ok') }) } } },
    async (_request, reply) => {
      noStore(reply);
      return { status: 'ok' as const };
    },
  );

  app.get('/readyz', { schema: { hide: true, response: { 200: ReadySchema, 503: NotReadySchema } } }, async (request, reply) => {
    noStore(reply);
    const result = await readiness(request);
    if ('errors' in result) return reply.code(503).send({ status: 'not_ready', errors: result.errors });
    return { status: 'ready', database: 'ok', migrations: { applied: result.applied.length, pending: [] } };
  });

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    noStore(reply);
    const text = await register.metrics();
    return reply.type(register.contentType).send(text);
  });
}

/** Probe answers describe this instant; no proxy may serve an old one. */
function noStore(reply: FastifyReply): void {
  reply.header('cache-control', 'no-store');
}

/**
 * Requests by method, matched route pattern and status; their durations; and how many are in flight. Fastify's own
 * clock (reply.elapsedTime) starts before any onRequest hook, so an answer given by an earlier hook is timed too.
 */
function registerRequestMetrics(app: FastifyInstance, register: Registry): void {
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({ name: 'steward_http_requests_total', help: 'HTTP requests answered, by method, route pattern and status.', labelNames, registers: [register] });
  const durations = new Histogram({
    name: 'steward_http_request_duration_seconds',
    help: 'Time from receiving a request to finishing its answer, by method, route pattern and status.',
    labelNames,
    buckets: DURATION_BUCKETS,
    registers: [register],
  });
  const inFlight = new Gauge({ name: 'steward_http_requests_in_flight', help: 'HTTP requests received and not yet answered or abandoned.', registers: [register] });

  // Each request leaves the gauge exactly once, whichever comes first: its answer finishing, the client aborting, or
  // the response closing without finishing (a cut connection). A request never counted in (an earlier onRequest
  // hook answered it) never counts out, so the gauge cannot drift.
  const open = new WeakSet<FastifyRequest>();
  const leave = (request: FastifyRequest) => {
    if (open.delete(request)) inFlight.dec();
  };
  app.addHook('onRequest', async (request, reply) => {
    open.add(request);
    inFlight.inc();
    reply.raw.once('close', () => leave(request));
  });
  app.addHook('onRequestAbort', async (request) => leave(request));
  app.addHook('onResponse', async (request, reply) => {
    leave(request);
    const labels = { method: request.method, route: request.routeOptions.url ?? UNMATCHED, status: String(reply.statusCode) };
    requests.inc(labels);
    durations.observe(labels, reply.elapsedTime / 1000);
  });
}

/** The Postgres pool, read at scrape time. SQLite has no pool, so these series do not exist there. */
function registerPoolMetrics(register: Registry, store: Store): void {
  if (store.poolStats() === null) return;
  new Gauge({
    name: 'steward_db_pool_connections',
    help: 'Database pool connections: total (open), idle, and waiting (checkouts queued for a free connection).',
    labelNames: ['state'] as const,
    registers: [register],
    collect() {
      const stats = store.poolStats();
      if (!stats) return;
      this.set({ state: 'total' }, stats.total);
      this.set({ state: 'idle' }, stats.idle);
      this.set({ state: 'waiting' }, stats.waiting);
    },
  });
  new Gauge({
    name: 'steward_db_pool_max',
    help: 'Connections this process may open to the database.',
    registers: [register],
    collect() {
      const stats = store.poolStats();
      if (stats) this.set(stats.max);
    },
  });
}

type Readiness = MigrationStatus | { errors: string[] };

/**
 * The readiness check: not draining, the database answers within DATABASE_CHECK_TIMEOUT_MS, and every migration
 * of this version has run. Load balancers probe often, so a clean migration status is reused for a while; a
 * pending one is read again on every probe, so a `steward migrate` elsewhere turns the instance ready at once.
 */
function readinessCheck({ store, lifecycle }: OperationsDeps): (request: FastifyRequest) => Promise<Readiness> {
  let clean: { status: MigrationStatus; until: number } | undefined;
  // One check at a time: while the database hangs, probes share the check already waiting instead of each piling
  // another query onto the pool.
  let running: Promise<MigrationStatus> | undefined;
  const check = () =>
    (running ??= (async () => {
      try {
        // On the upkeep connection: a request pool that is merely busy is load, not a reason to leave the rotation
        // (every instance would leave it at once under a burst).
        await sql`select 1`.execute(store.upkeep);
        if (clean && clean.until > Date.now()) return clean.status;
        const status = await migrationStatus({ ...store, db: store.upkeep });
        clean = status.pending.length === 0 ? { status, until: Date.now() + CLEAN_MIGRATIONS_TTL_MS } : undefined;
        return status;
      } finally {
        running = undefined;
      }
    })());

  return async (request) => {
    if (lifecycle.draining) return { errors: ['shutting down: this instance no longer takes new work'] };
    if (lifecycle.blocked) return { errors: [lifecycle.blocked] };
    let status: MigrationStatus | 'timeout';
    try {
      status = await withTimeout(check(), DATABASE_CHECK_TIMEOUT_MS);
    } catch (error) {
      // The message may name hosts or users; the log gets it, the (unauthenticated) answer only the error's code.
      request.log.warn({ err: error }, 'readiness: the database check failed');
      return { errors: [`database unreachable${codeOf(error)}`] };
    }
    if (status === 'timeout') return { errors: [`database did not answer within ${DATABASE_CHECK_TIMEOUT_MS / 1000} s`] };
    if (status.pending.length > 0) {
      return { errors: [`migrations not applied: ${status.pending.join(', ')} (run \`steward migrate\`)`] };
    }
    return status;
  };
}

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** ` (ECONNREFUSED)`, ` (28P01)`: a driver's error code, when it has a plain one. */
function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code) ? ` (${code})` : '';
}
