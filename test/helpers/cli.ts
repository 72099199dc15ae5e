import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config.ts';
import { freshDatabase, type DialectUnderTest, type TestDatabase } from './app.ts';

/** The repository root: every child runs `bin/steward.js` from here. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Inherited settings a child never gets unless the caller passes them in `extra`. */
const CLEARED = ['NODE_TEST_CONTEXT', 'PUBLIC_URL', 'ALLOWED_CONTACT_DOMAINS', 'DATABASE_URL', 'PORT', 'HOST', 'STEWARD_INTEGRATION_PASSWORD', 'LOG_LEVEL', 'STEWARD_ENCRYPTION_KEY', 'STEWARD_ALLOW_HTTP_SAML_METADATA'];

/**
 * The environment a child gets: ours plus what reaches the test database, minus the test runner's marker and the
 * settings that would change what the CLI prints or does (flags passed to it take precedence over the rest anyway).
 * A name given in `extra` is kept, so a test can set one of those settings on purpose.
 */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const name of CLEARED) {
    if (!(name in extra)) delete env[name];
  }
  return env;
}

/** How a CLI run ended: its exit code (-1 if it was killed or never started) and everything it printed. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/steward.js <args> --database <url>` to completion with `env` added to childEnv(); never rejects. */
export function runSteward(url: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/steward.js', ...args, '--database', url],
      // Generous: each run costs ~2 CPU-seconds of start-up, and a shared 2-core machine can be very busy.
      { cwd: ROOT, env: childEnv(env), timeout: 120_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr: error?.killed ? `${stderr}(killed: no exit within 120 s)` : stderr });
      },
    );
  });
}

/** Runs `node bin/steward.js <args> --database <url>` against the test database to completion; never rejects. */
export function steward(db: Pick<TestDatabase, 'url' | 'env'>, ...args: string[]): Promise<CliResult> {
  return runSteward(db.url, args, db.env);
}

/** Parses a successful `--json` run: exit 0, nothing on stderr, and stdout is exactly one JSON object on one line, ending with a newline. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- CLI output is inspected field by field
export function jsonOf(run: CliResult): any {
  assert.equal(run.code, 0, `exit ${run.code}; stderr: ${run.stderr}`);
  assert.equal(run.stderr, '');
  assert.ok(run.stdout.endsWith('\n'), 'output ends with a newline');
  assert.equal(run.stdout.trimEnd().split('\n').length, 1, `one line of output, got: ${run.stdout}`);
  const parsed: unknown = JSON.parse(run.stdout);
  assert.ok(parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed), 'a JSON object');
  return parsed;
}

/** A failed run: exit 1, the reason on stderr matching `message` (`steward: …`, or commander's own error), nothing on stdout. */
export function assertFails(run: CliResult, message: RegExp): void {
  assert.equal(run.code, 1, `expected exit 1; stdout: ${run.stdout} stderr: ${run.stderr}`);
  assert.equal(run.stdout, '', 'nothing on stdout when a command fails');
  assert.match(run.stderr, message);
}

/** The fresh database plus the real app on the same store, both closed when the test ends. */
export async function databaseAndApp(t: TestContext, dialect: DialectUnderTest['name']): Promise<{ db: TestDatabase; app: FastifyInstance }> {
  const db = await freshDatabase(dialect);
  const app = await buildApp({ config: parseConfig({ logLevel: 'silent', publicUrl: 'https://steward.test' }), store: db.store });
  t.after(async () => {
    await app.close();
    await db.close();
  });
  return { db, app };
}
