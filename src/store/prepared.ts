import type { CompiledQuery, Kysely } from 'kysely';
import type { Database } from './schema.ts';

type Db = Kysely<Database>;

/** Statement names by SQL text: every query prepared() has compiled, named `steward_N` (on Postgres, see database.ts). */
export const PREPARED_STATEMENT_NAMES = new Map<string, string>();

/**
 * A query built and compiled by Kysely once per dialect, then run with new argument values: for the few queries every
 * request runs (the token lookup, an account by token, its lists). Building a Kysely query allocates and freezes
 * an operation tree and compiles it to SQL each time, a third of a simple GET's CPU in the bench (docs/performance.md).
 * (kysely-params does this but requires Kysely 0.24.)
 *
 * On Postgres each such query is also a named prepared statement on every connection (see NamedStatementClient in
 * database.ts), so the server parses and plans it once per connection, not on each request. Name columns rather
 * than `select *`: a migration that adds a column would otherwise make the cached plans of running processes fail
 * ("cached plan must not change result type").
 *
 * `build` receives placeholder values in place of its arguments and must use each only as a single bound value
 * (`where('token', '=', token)`): not in a list, not in SQL text. The compiled parameters that are placeholders are
 * swapped for the call's arguments; any other parameter is a constant of the query and is kept.
 */
export function prepared<A extends readonly unknown[], R>(build: (db: Db, ...args: A) => { compile(): CompiledQuery<R> }) {
  const compiled = new WeakMap<object, { query: CompiledQuery<R>; slots: number[] }>();
  const run = async (db: Db, ...args: A): Promise<R[]> => {
    const adapter = db.getExecutor().adapter.constructor;
    let entry = compiled.get(adapter);
    if (!entry) {
      const placeholders = args.map((_, i) => `\u0000steward-arg-${i}\u0000`);
      const query = build(db, ...(placeholders as unknown as A)).compile();
      const slots = query.parameters.map((p) => placeholders.indexOf(p as string));
      if (new Set(slots.filter((s) => s >= 0)).size !== args.length) {
        throw new Error(`prepared query: each argument must appear as a bound value (${query.sql})`);
      }
      entry = { query, slots };
      if (!PREPARED_STATEMENT_NAMES.has(query.sql)) PREPARED_STATEMENT_NAMES.set(query.sql, `steward_${PREPARED_STATEMENT_NAMES.size + 1}`);
      compiled.set(adapter, entry);
    }
    const { query, slots } = entry;
    const parameters = slots.map((slot, i) => (slot >= 0 ? args[slot] : query.parameters[i]));
    const result = await db.executeQuery<R>({ ...query, parameters });
    return result.rows;
  };
  return {
    all: run,
    first: async (db: Db, ...args: A): Promise<R | undefined> => (await run(db, ...args))[0],
  };
}
