import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { errors } from './errors.ts';

/** What parsing a custom rule's SQL gave: the AST, or a reason it is refused. */
export type ParsedSql = { ast: unknown } | { error: string };

/** A parse that takes longer than this is refused; short inputs exist that would take the parser minutes. */
export const SQL_PARSE_TIMEOUT_MS = 2000;

const CHILD = fileURLToPath(new URL('./sql-parser.child.mjs', import.meta.url));
/** The parser's heap limit. A parse that needs more dies with its process, which is restarted for the next one. */
const CHILD_HEAP_MB = 256;
let worker: { w: ChildProcess; ready: Promise<boolean> } | undefined;
let queue: Promise<unknown> = Promise.resolve();

/**
 * The parser process, started on first use; `ready` resolves once its grammar is loaded (false if it died). A
 * child process rather than a worker thread: a worker's resourceLimits are best effort, and some allocation
 * patterns abort the whole process instead of the worker (nodejs/node#47224), i.e. one request could kill the server.
 */
function parserWorker(): { w: ChildProcess; ready: Promise<boolean> } {
  if (!worker) {
    const w = fork(CHILD, [], { execArgv: [`--max-old-space-size=${CHILD_HEAP_MB}`], stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    w.unref(); // never keeps a CLI command (or the server at shutdown) alive; parseOnce refs the channel meanwhile
    w.channel?.unref();
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
  w.channel?.ref(); // a parse in flight (or the grammar loading for it) keeps the process alive; idle, it does not
  try {
    if (!(await ready)) return { error: 'sql_query could not be checked: the SQL parser failed to start' };
    return await parseWith(w, sql);
  } finally {
    w.channel?.unref();
  }
}

function parseWith(w: ChildProcess, sql: string): Promise<ParsedSql> {
  return new Promise((resolve) => {
    const done = (result: ParsedSql) => {
      clearTimeout(timer);
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onError);
      resolve(result);
    };
    const tooComplex: ParsedSql = { error: 'sql_query is too complex to check (deeply nested or unbalanced parentheses?); simplify it' };
    const timer = setTimeout(() => {
      if (worker?.w === w) worker = undefined;
      w.kill('SIGKILL');
      done(tooComplex);
    }, SQL_PARSE_TIMEOUT_MS);
    const onMessage = (m: { ast?: unknown; syntax?: string; tooComplex?: boolean }) =>
      done(m.syntax !== undefined ? { error: `sql_query is not valid SQL: ${m.syntax}` } : m.tooComplex ? tooComplex : { ast: m.ast });
    const onError = () => {
      if (worker?.w === w) worker = undefined; // e.g. the parser ran out of memory and its process died
      done(tooComplex);
    };
    w.on('message', onMessage);
    w.on('error', onError);
    w.on('exit', onError);
    w.send(sql, (error) => {
      if (error) onError(); // the process died between ready and now
    });
  });
}

/** Parses waiting or running at once, server-wide; past it a parse is refused (503) rather than queued. */
export const MAX_QUEUED_PARSES = 4;
let queued = 0;
/** Accounts with a parse waiting or running: one at a time each, so no one account can fill the queue. */
const parsing = new Set<string>();

/**
 * Parses one custom billing-rule statement with node-sql-parser (PostgreSQL grammar) in a child process, one
 * parse at a time, stopped after SQL_PARSE_TIMEOUT_MS: a pathological statement costs its own request a 400,
 * never the server its event loop. The queue is short and shared fairly: an account gets one parse at a time
 * (429 for a second), and at most MAX_QUEUED_PARSES wait server-wide (503), so no request waits more than a few
 * limits' worth behind other accounts' statements.
 */
export function parseSql(sql: string, owner: string): Promise<ParsedSql> {
  if (parsing.has(owner)) return Promise.reject(errors.sqlCheckBusy('account'));
  if (queued >= MAX_QUEUED_PARSES) return Promise.reject(errors.sqlCheckBusy('server'));
  parsing.add(owner);
  queued += 1;
  const result = queue.then(() => parseOnce(sql)).finally(() => {
    parsing.delete(owner);
    queued -= 1;
  });
  queue = result.catch(() => undefined);
  return result;
}
