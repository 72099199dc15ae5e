import type { Dialect } from '../database.ts';

/**
 * The integer primary key every table uses: SQLite wants INTEGER PRIMARY KEY AUTOINCREMENT, Postgres a serial
 * column (4-byte, so pg returns numbers). Use as `.addColumn('id', idColumn(d).type, idColumn(d).build)`.
 */
export function idColumn(dialect: Dialect) {
  return {
    type: dialect === 'postgres' ? ('serial' as const) : ('integer' as const),
    build: <T extends { primaryKey(): T; autoIncrement(): T }>(c: T) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()),
  };
}
