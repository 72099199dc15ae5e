import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { childEnv, ROOT } from './cli.ts';

/** A `steward serve` child process (real process, real port), as an operator runs it. */
export interface Server {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the match once stdout matches; rejects if the process exits first or after 60 s. */
  waitFor(pattern: RegExp): Promise<RegExpExecArray>;
  /** Resolves with the origin the banner prints (http://127.0.0.1:<port>) once the server listens. */
  listening(): Promise<string>;
  /** Resolves with how the process ended: its exit code, or the signal that killed it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then waits for the exit (SIGKILL after 10 s); resolves with the exit code (null if killed by a signal). */
  stop(): Promise<number | null>;
}

/**
 * Starts `node bin/steward.js serve <extra> --port 0 --host 127.0.0.1 --database <database>` with childEnv(env).
 * `extra` defaults to `--demo`.
 */
export function startServe(database: string, extra: string[] = ['--demo'], env: Record<string, string> = {}): Server {
  const child = spawn(process.execPath, ['bin/steward.js', 'serve', ...extra, '--port', '0', '--host', '127.0.0.1', '--database', database], {
    cwd: ROOT,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  const notify = () => listeners.forEach((listener) => listener());
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    notify();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  child.once('exit', notify);

  const waitFor = (pattern: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`timed out waiting for ${pattern}; stdout: ${out}; stderr: ${err}`)), 60_000);
      const check = () => {
        const match = pattern.exec(out);
        if (match) finish(null, match);
        else if (child.exitCode !== null || child.signalCode !== null) finish(new Error(`serve exited (${child.exitCode ?? child.signalCode}); stdout: ${out}; stderr: ${err}`));
      };
      const finish = (error: Error | null, match?: RegExpExecArray) => {
        clearTimeout(timer);
        listeners.delete(check);
        if (error) reject(error);
        else resolve(match as RegExpExecArray);
      };
      listeners.add(check);
      check();
    });

  return {
    child,
    stdout: () => out,
    stderr: () => err,
    waitFor,
    listening: async () => (await waitFor(/Steward is listening on (http:\/\/\S+) /))[1] as string,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      try {
        return (await exited).code;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** What one HTTP exchange gave: a response, or the connection error that ended it first (ECONNREFUSED, ECONNRESET, …). */
export type Exchange =
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are inspected field by field
  | { status: number; headers: Record<string, string | string[] | undefined>; raw: string; body: any; error?: undefined }
  | { status?: undefined; error: string };

/**
 * One request on a connection of its own (no keep-alive pool shared with other requests), so a test controls
 * exactly which requests are open when it signals a process. Never rejects.
 */
export function send(
  origin: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Exchange> {
  return new Promise((resolve) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = httpRequest(
      `${origin}${path}`,
      {
        method,
        agent: false,
        headers: {
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
          ...options.headers,
        },
      },
      (res) => {
        let raw = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (raw += chunk));
        res.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
        res.on('end', () => {
          let body: unknown = null;
          try {
            body = raw === '' ? null : JSON.parse(raw);
          } catch {
            body = raw;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, raw, body });
        });
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    req.end(payload);
  });
}
