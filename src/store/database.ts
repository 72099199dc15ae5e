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
  type DialectAdapter,
  type Driver,
  type Migration,
  type MigrationProvider,
  type SqliteDialectConfig,
} from 'kysely';
import pg from 'pg';
import { references } from './migrations/0002_references.ts';
import { initial } from './migrations/0001_initial.ts';
import { trust } from './migrations/0003_trust.ts';
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

export interface Store {
  db: Kysely<Database>;
  dialect: Dialect;
  close(): Promise<void>;
}

export function dialectOf(databaseUrl: string): Dialect {
  return /^postgres(ql)?:\/\//.test(databaseUrl) ? 'postgres' : 'sqlite';
}

export interface OpenOptions {
  /** Postgres only: the schema to use (created when missing); tests use one schema each. */
  pgSchema?: string;
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
    const pool = new pg.Pool({
      connectionString: databaseUrl,
      max: 10,
      ...(options.pgSchema ? { options: `-c search_path=${options.pgSchema}` } : {}),
    });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { db, dialect, close: () => db.destroy() };
  }

  const path = databaseUrl.replace(/^sqlite:(\/\/)?/, '');
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new SQLite(path);
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('journal_mode = WAL');
  // FULL: every commit is on disk before we answer 2xx (R1), even across a power loss.
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new StewardSqliteDialect({ database: sqlite }) });
  return { db, dialect, close: () => db.destroy() };
}

const migrationsFor = (dialect: Dialect): Record<string, Migration> => ({
  '0001_initial': initial(dialect),
  '0002_references': references(dialect),
  '0003_trust': trust(dialect),
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

/** Runs pending migrations under a lock (a Postgres advisory lock; SQLite's write lock), so concurrent starts migrate once. */
export async function migrate(store: Store): Promise<void> {
  const { error } = await (await migratorFor(store)).migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
}

/** Dropping a Postgres schema a test created; SQLite test files are removed by the caller. */
export async function dropPgSchema(databaseUrl: string, schema: string): Promise<void> {
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`drop schema if exists "${schema.replace(/"/g, '')}" cascade`);
  await admin.end();
}
