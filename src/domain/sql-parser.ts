import { Worker } from 'node:worker_threads';

/** What parsing a custom rule's SQL gave: the AST, or a reason it is refused. */
export type ParsedSql = { ast: unknown } | { error: string };

/** A parse that takes longer than this is refused; short inputs exist that would take the parser minutes. */
export const SQL_PARSE_TIMEOUT_MS = 2000;

const WORKER = new URL('./sql-parser.worker.mjs', import.meta.url);
let worker: { w: Worker; ready: Promise<boolean> } | undefined;
let queue: Promise<unknown> = Promise.resolve();

/** The parser thread, started on first use; `ready` resolves once its grammar is loaded (false if it died). */
function parserWorker(): { w: Worker; ready: Promise<boolean> } {
  if (!worker) {
    const w = new Worker(WORKER, { resourceLimits: { maxOldGenerationSizeMb: 256 } });
    w.unref(); // never keeps a CLI command (or the server at shutdown) alive
    const ready = new Promise<boolean>((resolve) => {
      w.once('message', () => resolve(true));
      w.once('error', () => resolve(false));
      w.once('exit', () => resolve(false));
    });
    w.on('error', () => undefined); // reported through `ready` or the parse in flight
    w.on('exit', () => {
      if (worker?.w === w) worker = undefined;
    });
    worker = { w, ready };
  }
  return worker;
}

async function parseOnce(sql: string): Promise<ParsedSql> {
  const { w, ready } = parserWorker();
  if (!(await ready)) return { error: 'sql_query could not be checked: the SQL parser failed to start' };
  return new Promise((resolve) => {
    const done = (result: ParsedSql) => {
      clearTimeout(timer);
      w.off('message', onMessage);
      w.off('error', onError);
      resolve(result);
    };
    const tooComplex: ParsedSql = { error: 'sql_query is too complex to check (deeply nested or unbalanced parentheses?); simplify it' };
    const timer = setTimeout(() => {
      if (worker?.w === w) worker = undefined;
      void w.terminate();
      done(tooComplex);
    }, SQL_PARSE_TIMEOUT_MS);
    const onMessage = (m: { ast?: unknown; syntax?: string; tooComplex?: boolean }) =>
      done(m.syntax !== undefined ? { error: `sql_query is not valid SQL: ${m.syntax}` } : m.tooComplex ? tooComplex : { ast: m.ast });
    const onError = () => {
      if (worker?.w === w) worker = undefined; // e.g. the worker hit its memory limit
      done(tooComplex);
    };
    w.on('message', onMessage);
    w.on('error', onError);
    w.postMessage(sql);
  });
}

/**
 * Parses one custom billing-rule statement with node-sql-parser (PostgreSQL grammar) in a worker thread, one
 * parse at a time, stopped after SQL_PARSE_TIMEOUT_MS: a pathological statement costs its own request a 400,
 * never the server its event loop.
 */
export function parseSql(sql: string): Promise<ParsedSql> {
  const result = queue.then(() => parseOnce(sql));
  queue = result.catch(() => undefined);
  return result;
}
