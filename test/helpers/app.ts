import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.ts';
import { parseConfig, type Config } from '../../src/config.ts';
import { createAccount, createApiToken, requireAccount } from '../../src/domain/accounts.ts';
import { CLI_ACTOR } from '../../src/domain/audit.ts';
import { createBillingRule, type BillingRuleInput } from '../../src/domain/billing-rules.ts';
import { createIntegration } from '../../src/domain/integrations.ts';
import { dropPgSchema, migrate, openStore, type OpenOptions, type Store } from '../../src/store/database.ts';

export interface DialectUnderTest {
  name: 'sqlite' | 'postgres';
  /** Why this dialect is skipped here, if it is. */
  skip?: string;
}

const PG_URL = process.env.TEST_DATABASE_URL;

/** SQLite always; Postgres when TEST_DATABASE_URL is set (CI sets it), otherwise reported as skipped. */
if (!PG_URL) console.log('# Postgres runs SKIPPED in this file: set TEST_DATABASE_URL=postgres://… to run them');
export const DIALECTS: DialectUnderTest[] = [
  { name: 'sqlite' },
  PG_URL ? { name: 'postgres' } : { name: 'postgres', skip: 'TEST_DATABASE_URL is not set, so the Postgres run is skipped' },
];

export interface TestDatabase {
  store: Store;
  /** What to pass as --database / DATABASE_URL to reach this same database. */
  url: string;
  /** Extra env for a child process so it lands in the same Postgres schema. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** A fresh database (migrated unless told not to): a temp SQLite file, or a Postgres schema of its own, opened with `open`. */
export async function freshDatabase(dialect: DialectUnderTest['name'], open: Omit<OpenOptions, 'pgSchema'> = {}, { migrated = true } = {}): Promise<TestDatabase> {
  if (dialect === 'postgres') {
    if (!PG_URL) throw new Error('TEST_DATABASE_URL is not set');
    const schema = `steward_test_${randomBytes(6).toString('hex')}`;
    const store = await openStore(PG_URL, { ...open, pgSchema: schema });
    if (migrated) await migrate(store);
    const url = new URL(PG_URL);
    url.searchParams.set('options', `-c search_path=${schema}`);
    return {
      store,
      url: url.toString(),
      env: { PGOPTIONS: `-c search_path=${schema}` },
      close: async () => {
        await store.close();
        await dropPgSchema(PG_URL, schema);
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'steward-test-'));
  const path = join(dir, 'steward.sqlite');
  const store = await openStore(path, open);
  if (migrated) await migrate(store);
  return {
    store,
    url: path,
    env: {},
    close: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface TestApp {
  app: FastifyInstance;
  db: TestDatabase;
  config: Config;
}

/** The real app on a fresh database, closed when the test ends. */
export async function testApp(t: TestContext, dialect: DialectUnderTest['name'], overrides: Partial<Config> = {}): Promise<TestApp> {
  const db = await freshDatabase(dialect);
  const config = {
    ...parseConfig({ logLevel: 'silent', publicUrl: 'https://steward.test', encryptionKey: randomBytes(32).toString('hex') }),
    ...overrides,
  };
  const app = await buildApp({ config, store: db.store });
  t.after(async () => {
    await app.close();
    await db.close();
  });
  return { app, db, config };
}

/** testApp listening on a real port (for the official client); returns the base URL to give it. */
export async function listeningApp(t: TestContext, dialect: DialectUnderTest['name'], overrides: Partial<Config> = {}): Promise<TestApp & { baseUrl: string }> {
  const ctx = await testApp(t, dialect, { publicUrl: undefined, ...overrides });
  const baseUrl = await ctx.app.listen({ port: 0, host: '127.0.0.1' });
  return { ...ctx, baseUrl };
}

export interface MspFixture {
  accountToken: string;
  /** read+write */
  token: string;
  readOnly: string;
  writeOnly: string;
  integrations: string[];
  rules: string[];
}

/**
 * The fixture of shared/cases/field-cases.md: an MSP owning integrations A1, A2 and adjustment rules R1, R2
 * (90%, not apply-to-all), with read+write, read-only and write-only tokens. Made through the domain, as the CLI does
 * (and audited as the CLI's changes).
 */
export async function seedMsp(store: Store, name = 'MSP A'): Promise<MspFixture> {
  const account = await createAccount(store.db, { name, msp: true });
  const owner = await requireAccount(store.db, account.token);
  const token = (scopes: string) => createApiToken(store.db, { accountToken: account.token, scopes, description: scopes }).then((t) => t.token);
  const integrations = [];
  for (const id of ['111111111111', '222222222222']) {
    integrations.push((await createIntegration(store.db, owner.id, CLI_ACTOR, { provider: 'aws', account_identifier: id })).token);
  }
  const rules = [];
  for (const title of ['R1', 'R2']) {
    rules.push((await createBillingRule(store.db, { id: owner.id, actorToken: owner.token }, CLI_ACTOR, { type: 'adjustment', title, percentage: 90 })).token);
  }
  return {
    accountToken: account.token,
    token: await token('read,write'),
    readOnly: await token('read'),
    writeOnly: await token('write'),
    integrations,
    rules,
  };
}

export async function addRule(store: Store, accountToken: string, input: BillingRuleInput): Promise<string> {
  const owner = await requireAccount(store.db, accountToken);
  return (await createBillingRule(store.db, { id: owner.id, actorToken: owner.token }, CLI_ACTOR, input)).token;
}

export async function nonMspToken(store: Store): Promise<string> {
  const account = await createAccount(store.db, { name: 'Plain customer', msp: false });
  return (await createApiToken(store.db, { accountToken: account.token, scopes: 'read,write' })).token;
}

export interface Response {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- test responses are inspected field by field
  raw: string;
}

/** One HTTP call through app.inject, parsed. */
export async function call(
  app: FastifyInstance,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  url: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  const res = await app.inject({
    method,
    url,
    headers,
    ...(options.body !== undefined ? { payload: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) } : {}),
  });
  let body: unknown = undefined;
  if (res.body !== '') body = JSON.parse(res.body);
  return { status: res.statusCode, headers: res.headers, body, raw: res.body };
}

/** A unique contact email per call. */
let emailCounter = 0;
export function uniqueEmail(prefix = 'admin'): string {
  emailCounter += 1;
  return `${prefix}-${process.pid}-${emailCounter}@example.com`;
}
