/**
 * What bench/run.ts and bench/scale.ts share: starting servers as child processes (so the load generator never
 * shares an event loop with the server it measures), preparing databases through Steward's own domain and store,
 * and one autocannon measurement.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import pg from 'pg';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CONTRACT = join(ROOT, '..', 'shared', 'contract', 'vantage-v2-subset.openapi.json');
/** Where results are written: bench/ (the committed, published figures) unless BENCH_OUTPUT_DIR says otherwise. */
export const OUTPUT_DIR = process.env.BENCH_OUTPUT_DIR ?? join(ROOT, 'bench');

/** A fixed key for the PostgreSQL runs (required there); the SQLite runs use the key file made beside the database. */
export const BENCH_ENCRYPTION_KEY = 'b'.repeat(64);

export interface Running {
  name: string;
  url: string;
  child: ChildProcess;
  /** Peak resident set size of the process so far (VmHWM), in bytes. */
  peakRss(): number;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts `command` (its output discarded: a server writing logs still formats them) and waits for `probe` to answer. */
export async function startProcess(
  name: string,
  command: string,
  args: string[],
  options: { port: number; probe: string; probeHeaders?: Record<string, string>; env?: Record<string, string>; timeoutMs?: number },
): Promise<Running> {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${options.port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} before it was ready:\n${stderr}`);
    try {
      const response = await fetch(url + options.probe, { headers: options.probeHeaders });
      await response.arrayBuffer();
      if (response.status < 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not answer ${options.probe} within ${options.timeoutMs ?? 60_000} ms:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    name,
    url,
    child,
    peakRss: () => {
      const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return match ? Number(match[1]) * 1024 : NaN;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      }),
  };
}

/** `steward serve` on a prepared database, with the rate limit raised so a benchmark is not throttled (it still runs). */
export async function startSteward(name: string, databaseUrl: string, extraEnv: Record<string, string> = {}): Promise<Running> {
  const port = await freePort();
  return startProcess(name, process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', String(port), '--database', databaseUrl], {
    port,
    probe: '/readyz',
    env: {
      STEWARD_RATE_LIMIT_MAX: '1000000000',
      ...(databaseUrl.startsWith('postgres') ? { STEWARD_ENCRYPTION_KEY: BENCH_ENCRYPTION_KEY } : {}),
      ...extraEnv,
    },
  });
}

/** Drops and recreates a PostgreSQL database next to `adminUrl`'s (the benchmark's own, never the tests'). */
export async function freshPostgresDatabase(adminUrl: string, name: string, hint = ''): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`PostgreSQL at ${adminUrl.replace(/\/\/[^@/]*@/, '//…@')} is not reachable (${(error as Error).message})${hint}`);
  }
  try {
    await client.query(`drop database if exists "${name}" with (force)`);
    await client.query(`create database "${name}"`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export interface Measurement {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

export interface Load {
  url: string;
  method?: 'GET' | 'POST' | 'PUT';
  headers?: Record<string, string>;
  /** A path and/or body per request (each create unique, updates spread over many accounts), or none. */
  each?: () => { path?: string; body?: string };
  connections: number;
  durationSeconds: number;
}

export async function measure(load: Load): Promise<Measurement> {
  const { each } = load;
  const method = load.method ?? 'GET';
  const result = await autocannon({
    url: load.url,
    method,
    headers: { ...(method === 'GET' ? {} : { 'content-type': 'application/json' }), ...load.headers },
    connections: load.connections,
    duration: load.durationSeconds,
    ...(each ? { requests: [{ method, setupRequest: (request: Record<string, unknown>) => ({ ...request, ...each() }) }] } : {}),
  } as autocannon.Options);
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    meanMs: result.latency.average,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;
