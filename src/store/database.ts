import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import {
  Kysely,
  sql,
  Migrator,
  PostgresDialect,
  CompiledQuery,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type DatabaseMetadata,
  type DialectAdapter,
  type Driver,
  type Migration,
  type MigrationProvider,
  type SqliteDialectConfig,
  type TableMetadata,
} from 'kysely';
import pg from 'pg';
import { references } from './migrations/0002_references.ts';
import { initial } from './migrations/0001_initial.ts';
import { trust } from './migrations/0003_trust.ts';
import { normalisedEmails } from './migrations/0004_normalised_emails.ts';
import { listOrderIndexes } from './migrations/0005_list_order_indexes.ts';
import { PREPARED_STATEMENT_NAMES } from './prepared.ts';
import type { Database } from './schema.ts';

export type Dialect = 'sqlite' | 'postgres';

/**
 * SQLite across processes (the server and a CLI command, or two first starts): a deferred BEGIN reads a snapshot
 * and then cannot upgrade to a write once another process has committed (SQLITE_BUSY_SNAPSHOT, which no
 * busy_timeout cures). Every transaction here writes, so each takes the write lock up front with BEGIN IMMEDIATE
 * and waits its turn. In one process Kysely already serialises the single connection.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

/** Kysely runs SQLite migrations outside a transaction and takes no lock; SQLite DDL is transactional, so use one. */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class StewardSqliteDialect extends SqliteDialect {
  constructor(private readonly settings: SqliteDialectConfig) {
    super(settings);
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.settings);
  }
  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

/**
 * A pg client that runs the SQL of prepared() queries (store/prepared.ts) as named prepared statements: Postgres
 * parses and plans each once per connection instead of on every request (a GET's five queries: 1,190 → 2,200 req/s
 * in the bench). Kysely calls query(text, values); every other call passes through unchanged.
 */
class NamedStatementClient extends pg.Client {
  override query(...args: unknown[]): never {
    const [text, values] = args;
    const name = typeof text === 'string' && Array.isArray(values) && args.length === 2 ? PREPARED_STATEMENT_NAMES.get(text) : undefined;
    const call = super.query as unknown as (...a: unknown[]) => never;
    return name ? call.call(this, { name, text, values }) : call.apply(this, args);
  }
}

export interface Store {
  db: Kysely<Database>;
  /**
   * For background upkeep that must not wait behind requests (Idempotency-Key heartbeats): on Postgres a pool of
   * its own (one connection), so an exhausted request pool cannot starve a heartbeat into a takeover; on SQLite `db`.
   */
  upkeep: Kysely<Database>;
  dialect: Dialect;
  /** The Postgres pool's connections (open, idle) and waiting checkouts, for /metrics; null on SQLite (one connection, no pool). */
  poolStats(): PoolStats | null;
  close(): Promise<void>;
}

export interface PoolStats {
  max: number;
  total: number;
  idle: number;
  waiting: number;
}

/** Postgres pool and timeouts (R1, M10 across processes). Every field has a default that suits one process. */
export interface PostgresSettings {
  /** Connections this process may open. Several processes × max must stay under the server's max_connections. */
  poolMax: number;
  /** A statement running (or waiting for a lock) longer than this is cancelled: the request gets a 503. */
  statementTimeoutMs: number;
  /** Waiting longer than this for a free connection from the pool: the request gets a 503. */
  connectTimeoutMs: number;
  /** Run prepared() queries as named prepared statements (off behind a pooler that cannot keep them). */
  preparedStatements: boolean;
}

export const POSTGRES_DEFAULTS: PostgresSettings = { poolMax: 10, statementTimeoutMs: 30_000, connectTimeoutMs: 10_000, preparedStatements: true };

export function dialectOf(databaseUrl: string): Dialect {
  return /^postgres(ql)?:\/\//.test(databaseUrl) ? 'postgres' : 'sqlite';
}

export interface OpenOptions {
  /** Postgres only: the schema to use (created when missing); tests use one schema each. */
  pgSchema?: string;
  /** Postgres only: pool size and timeouts (POSTGRES_DEFAULTS). */
  postgres?: Partial<PostgresSettings>;
  /** SQLite only: how long a write waits for another process's write lock before the request gets a 503. */
  sqliteBusyTimeoutMs?: number;
}

/**
 * Kysely's Postgres introspector, which its migrator uses to find its own tables, reads the columns of every schema in
 * the database and calls `has_schema_privilege` and `pg_get_serial_sequence` on each name it found
 * (kysely-org/kysely#1419). A schema that someone else drops during that scan fails it with 3F000 `schema "…" does
 * not exist`: 130 of 919 status checks failed against a create/drop loop on other schemas. Steward's store only ever
 * needs its own schema (`current_schema()`, the first of the search path), so that is all this introspector reads,
 * from the catalogue alone, with no per-schema function call to race. Columns are not read: nothing in Steward asks
 * for them.
 */
class OwnSchemaIntrospector implements DatabaseIntrospector {
  constructor(private readonly db: Kysely<unknown>) {}

  async getSchemas(): Promise<Array<{ name: string }>> {
    const { rows } = await sql<{ name: string | null }>`select current_schema() as name`.execute(this.db);
    return rows.flatMap((r) => (r.name ? [{ name: r.name }] : []));
  }

  async getTables(): Promise<TableMetadata[]> {
    const { rows } = await sql<{ name: string; schema: string; is_view: boolean }>`
      select c.relname as name, n.nspname as schema, c.relkind = 'v' as is_view
      from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      where n.nspname = current_schema() and c.relkind in ('r', 'v', 'p')
      order by c.relname`.execute(this.db);
    return rows.map((r) => ({ name: r.name, schema: r.schema, isView: r.is_view, columns: [] }));
  }

  async getMetadata(): Promise<DatabaseMetadata> {
    return { tables: await this.getTables() };
  }
}

class OwnSchemaPostgresDialect extends PostgresDialect {
  override createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new OwnSchemaIntrospector(db);
  }
}

/** Opens the database named by a file path (SQLite) or a postgres:// URL. Does not migrate. */
export async function openStore(databaseUrl: string, options: OpenOptions = {}): Promise<Store> {
  const dialect = dialectOf(databaseUrl);
  if (dialect === 'postgres') {
    if (options.pgSchema) {
      const admin = new pg.Client({ connectionString: databaseUrl });
      await admin.connect();
      try {
        await admin.query(`create schema if not exists "${options.pgSchema.replace(/"/g, '')}"`);
      } catch (e) {
        // Two stores opening one new schema at once: the loser's "if not exists" still trips the catalogue's unique index.
        if ((e as { code?: string }).code !== '23505') throw e;
      } finally {
        await admin.end();
      }
    }
    const settings = { ...POSTGRES_DEFAULTS, ...options.postgres };
    const connection = {
      connectionString: databaseUrl,
      connectionTimeoutMillis: settings.connectTimeoutMs,
      // statement_timeout also bounds lock waits; a transaction left open (a bug) is ended after a minute.
      statement_timeout: settings.statementTimeoutMs,
      idle_in_transaction_session_timeout: Math.max(60_000, settings.statementTimeoutMs),
      application_name: 'steward',
      ...(options.pgSchema ? { options: `-c search_path=${options.pgSchema}` } : {}),
    };
    const pool = new pg.Pool({ ...connection, max: settings.poolMax, ...(settings.preparedStatements ? { Client: NamedStatementClient } : {}) });
    const upkeepPool = new pg.Pool({ ...connection, max: 1, application_name: 'steward-upkeep' });
    // A connection can drop at any time (a database restart or failover, pg_terminate_backend, the idle-in-transaction
    // timeout). pg then emits 'error' on the client, and on the pool for an idle one; unhandled, either ends the
    // process. The statement running on it fails on its own (a 503, see store/errors.ts databaseTrouble), and the
    // pool discards a broken client when it comes back, so here there is nothing to do but listen.
    for (const p of [pool, upkeepPool]) {
      p.on('error', () => {});
      p.on('connect', (client) => client.on('error', () => {}));
    }
    const db = new Kysely<Database>({ dialect: new OwnSchemaPostgresDialect({ pool }) });
    const upkeep = new Kysely<Database>({ dialect: new OwnSchemaPostgresDialect({ pool: upkeepPool }) });
    return {
      db,
      upkeep,
      dialect,
      poolStats: () => ({ max: settings.poolMax, total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
      close: async () => {
        await Promise.all([db.destroy(), upkeep.destroy()]);
      },
    };
  }

  const path = databaseUrl.replace(/^sqlite:(\/\/)?/, '');
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new SQLite(path);
  sqlite.pragma(`busy_timeout = ${Math.trunc(options.sqliteBusyTimeoutMs ?? 5000)}`);
  sqlite.pragma('journal_mode = WAL');
  // FULL: every commit is on disk before we answer 2xx (R1), even across a power loss.
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new StewardSqliteDialect({ database: withStatementCache(sqlite) }) });
  return { db, upkeep: db, dialect, poolStats: () => null, close: () => db.destroy() };
}

/** Distinct SQL texts kept prepared; Steward issues a few hundred, and `in (…)` lists of varying length add more. */
const STATEMENT_CACHE_SIZE = 1000;

/**
 * Kysely's SQLite driver prepares every statement it runs: SQLite parses and plans the same SQL again on each request.
 * Handing it this view of the database instead keeps each SQL text's prepared statement, least recently used out
 * first. (Kysely only calls prepare and close; SQLite re-prepares a cached statement itself if the schema changes.)
 */
function withStatementCache(sqlite: SQLite.Database): SqliteDialectConfig['database'] {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => {
      cache.clear();
      sqlite.close();
    },
    prepare: (text: string) => {
      let statement = cache.get(text);
      if (statement) {
        cache.delete(text); // re-inserted below: Map order is recency order
      } else {
        statement = sqlite.prepare(text);
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
      }
      cache.set(text, statement);
      return statement;
    },
  } as unknown as SqliteDialectConfig['database'];
}

const migrationsFor = (dialect: Dialect): Record<string, Migration> => ({
  '0001_initial': initial(dialect),
  '0002_references': references(dialect),
  '0003_trust': trust(dialect),
  '0004_normalised_emails': normalisedEmails(),
  '0005_list_order_indexes': listOrderIndexes(),
});

/**
 * Kysely's Migrator for this store, running `migrations` (default: all of Steward's). On Postgres it is pinned to
 * the connection's current schema: Kysely otherwise looks for its tables in every schema, so another Steward (or a
 * test) in a neighbouring schema of the same database would make it skip creating its own.
 */
export async function migratorFor(store: Store, migrations: Record<string, Migration> = migrationsFor(store.dialect)): Promise<Migrator> {
  const provider: MigrationProvider = { getMigrations: async () => migrations };
  const migrationTableSchema =
    store.dialect === 'postgres' ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(store.db)).rows[0]?.schema : undefined;
  return new Migrator({ db: store.db, provider, ...(migrationTableSchema ? { migrationTableSchema } : {}) });
}

/**
 * Runs pending migrations under a lock (Kysely takes a Postgres advisory lock; on SQLite the migration runs in a
 * BEGIN IMMEDIATE transaction), so processes starting at once migrate once: the others wait, then find nothing to
 * do. Returns the names this call applied, in order.
 */
export async function migrate(store: Store): Promise<string[]> {
  const { error, results } = await (await migratorFor(store)).migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

export interface MigrationStatus {
  /** This version's migrations already in the database. */
  applied: string[];
  /** This version's migrations not yet run (`steward migrate` runs them). */
  pending: string[];
}

/** Which of this version's migrations the database has; a read, with no lock. */
export async function migrationStatus(store: Store): Promise<MigrationStatus> {
  const infos = await (await migratorFor(store)).getMigrations();
  return {
    applied: infos.filter((m) => m.executedAt !== undefined).map((m) => m.name),
    pending: infos.filter((m) => m.executedAt === undefined).map((m) => m.name),
  };
}

/** Dropping a Postgres schema a test created; SQLite test files are removed by the caller. */
export async function dropPgSchema(databaseUrl: string, schema: string): Promise<void> {
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`drop schema if exists "${schema.replace(/"/g, '')}" cascade`);
  await admin.end();
}
