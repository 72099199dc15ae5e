/**
 * npm run bench:scale: latency at 1,000 managed accounts against latency at 1,000,000 (1,000 MSPs × 1,000), and the
 * server's peak RSS. Accounts are seeded through the store in bulk (each carries its MSP's two billing rules and one
 * integration, so every read joins real rows); MSPs, their rules, integrations and tokens through the domain.
 *
 * Latency is measured one request at a time (no queueing in the figure), BENCH_SCALE_REQUESTS per operation, by a
 * keep-alive client in this process against `steward serve` in a child:
 *   get        GET /v2/managed_accounts/{token}, a different account of the MSP each time
 *   first page GET /v2/managed_accounts?limit=100
 *   page 50    GET /v2/managed_accounts?page=50&limit=20 (accounts 981–1,000 of the MSP: its last page)
 *   create     POST /v2/managed_accounts, each unique
 * The measured MSP at 1,000,000 is the middle one (index 500 of 0–999), so its rows sit in the middle of every index.
 *
 * Settings: BENCH_SCALE_ACCOUNTS (1000000), BENCH_SCALE_MSPS (1000), BENCH_SCALE_REQUESTS (2000),
 * BENCH_SCALE_DATABASE (sqlite, or a postgres:// admin URL: the run uses its own database `steward_scale` there).
 * Writes bench/scale-results.json (or scale-results.postgres.json) in bench/, or in BENCH_OUTPUT_DIR.
 */
import { request, Agent } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import { sql } from 'kysely';
import { newResourceToken, nowIso } from '../src/domain/tokens.ts';
import { emailKey } from '../src/domain/validators.ts';
import { insertAccountsInBulk, type BulkAccount } from '../src/store/accounts.store.ts';
import { findBillingRulesByTokens } from '../src/store/billing-rules.store.ts';
import { migrate, openStore, type Store } from '../src/store/database.ts';
import { findIntegrationsByTokens } from '../src/store/integrations.store.ts';
import { createBenchMsp } from './seed.ts';
import { BENCH_ENCRYPTION_KEY, freshPostgresDatabase, median, round, startSteward, OUTPUT_DIR, type Running } from './lib.ts';

const env = process.env;
const TOTAL = Number(env.BENCH_SCALE_ACCOUNTS ?? 1_000_000);
const MSPS = Number(env.BENCH_SCALE_MSPS ?? 1000);
const REQUESTS = Number(env.BENCH_SCALE_REQUESTS ?? 2000);
const DATABASE = env.BENCH_SCALE_DATABASE ?? 'sqlite';
const PER_MSP = Math.floor(TOTAL / MSPS);
const log = (line: string) => process.stdout.write(`${line}\n`);

interface SeededMsp {
  token: string;
  accountTokens: string[];
}

/** Each MSP through the domain (createBenchMsp); its managed accounts through the store, in bulk. */
async function seedMsps(store: Store, count: number, perMsp: number, measuredIndex: number, label: string): Promise<SeededMsp> {
  const db = store.db;
  const bar = new cliProgress.SingleBar(
    { format: `${label} {bar} {percentage}% | {value}/{total} accounts | {eta_formatted} left`, etaBuffer: 50 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(count * perMsp, 0);
  let measured: SeededMsp | undefined;
  const createdAt = nowIso();
  for (let m = 0; m < count; m++) {
    const { owner, integration, rules, token } = await createBenchMsp(db, `Scale MSP ${m}`, String(100000000000 + m));
    const ruleRows = await findBillingRulesByTokens(db, owner.id, rules.map((r) => r.token));
    const ruleIds = rules.map((rule) => ruleRows.find((r) => r.token === rule.token)?.id as number);
    const [integrationRow] = await findIntegrationsByTokens(db, owner.id, [integration.token]);
    const items: BulkAccount[] = [];
    for (let i = 0; i < perMsp; i++) {
      const email = `admin-${m}-${i}@customer-${i}.msp-${m}.example.com`;
      items.push({
        account: { token: newResourceToken('acct'), parent_id: owner.id, name: `Customer ${m}-${i}`, contact_email: email, contact_email_key: emailKey(email), email_domain: null, created_at: createdAt },
        workspaceToken: newResourceToken('wrkspc'),
        ruleIds,
        integrationIds: [integrationRow?.id as number],
      });
    }
    for (let at = 0; at < items.length; at += 5000) {
      await insertAccountsInBulk(db, items.slice(at, at + 5000));
      bar.increment(Math.min(5000, items.length - at));
    }
    if (m === measuredIndex) measured = { token, accountTokens: items.map((i) => i.account.token) };
  }
  bar.stop();
  return measured as SeededMsp;
}

interface Latency {
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  requests: number;
  statuses: Record<string, number>;
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 });

function call(base: string, method: string, path: string, token: string, body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, {
      method,
      agent,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}) },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function latency(base: string, token: string, next: (i: number) => { method: string; path: string; body?: string }): Promise<Latency> {
  const times: number[] = [];
  const statuses: Record<string, number> = {};
  for (let i = 0; i < REQUESTS + 200; i++) {
    const { method, path, body } = next(i);
    const start = performance.now();
    const status = await call(base, method, path, token, body);
    const elapsed = performance.now() - start;
    if (i >= 200) {
      // the first 200 warm up (JIT, caches) and do not count
      times.push(elapsed);
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  }
  const sorted = [...times].sort((a, b) => a - b);
  return {
    p50Ms: round(median(sorted), 3),
    p99Ms: round(sorted[Math.floor(sorted.length * 0.99)] as number, 3),
    meanMs: round(times.reduce((a, b) => a + b, 0) / times.length, 3),
    requests: times.length,
    statuses,
  };
}

async function measureAll(server: Running, msp: SeededMsp, tag: string) {
  const accounts = msp.accountTokens;
  const base = server.url;
  const operations = {
    get: (i: number) => ({ method: 'GET', path: `/v2/managed_accounts/${accounts[(i * 7919) % accounts.length]}` }),
    firstPage: () => ({ method: 'GET', path: '/v2/managed_accounts?limit=100' }),
    page50: () => ({ method: 'GET', path: '/v2/managed_accounts?page=50&limit=20' }),
    create: (i: number) => ({ method: 'POST', path: '/v2/managed_accounts', body: JSON.stringify({ name: `Scale new ${tag} ${i}`, contact_email: `new-${tag}-${i}@scale-${tag}.example.com` }) }),
  };
  const result: Record<string, Latency> = {};
  for (const [name, next] of Object.entries(operations)) {
    result[name] = await latency(base, msp.token, next);
    log(`  ${name.padEnd(10)} p50 ${result[name].p50Ms} ms  p99 ${result[name].p99Ms} ms  mean ${result[name].meanMs} ms  ${JSON.stringify(result[name].statuses)}`);
  }
  return result;
}

async function phase(label: string, total: number, msps: number) {
  const workdir = mkdtempSync(join(tmpdir(), 'steward-scale-'));
  const databaseUrl = DATABASE === 'sqlite' ? join(workdir, 'steward.sqlite') : await freshPostgresDatabase(DATABASE, 'steward_scale', ': check BENCH_SCALE_DATABASE');
  try {
    const store = await openStore(databaseUrl);
    let msp: SeededMsp;
    const seedStart = performance.now();
    try {
      await migrate(store);
      msp = await seedMsps(store, msps, Math.floor(total / msps), Math.floor(msps / 2), label);
      // After a bulk load Postgres has no statistics until autovacuum gets round to it, and plans blind (a
      // sequential scan of billing_rules for each account's rules): gather them, as any bulk load should.
      if (store.dialect === 'postgres') await sql`analyze`.execute(store.db);
    } finally {
      await store.close();
    }
    const seedSeconds = round((performance.now() - seedStart) / 1000, 1);
    log(`${label}: seeded ${total} accounts across ${msps} MSP(s) in ${seedSeconds} s`);
    const server = await startSteward(`steward-${label}`, databaseUrl, DATABASE === 'sqlite' ? {} : { STEWARD_ENCRYPTION_KEY: BENCH_ENCRYPTION_KEY });
    try {
      const latencies = await measureAll(server, msp, label);
      const peakRssBytes = server.peakRss();
      log(`  server peak RSS ${(peakRssBytes / 1024 / 1024).toFixed(1)} MB`);
      return { accounts: total, msps, seedSeconds, latencies, peakRssMb: round(peakRssBytes / 1024 / 1024, 1) };
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(workdir, { recursive: true, force: true });
  }
}

const count = (n: number) => n.toLocaleString('en-US');

async function main(): Promise<void> {
  if (PER_MSP < 1000) log(`note: ${PER_MSP} accounts per MSP, so page 50 of 20 (accounts 981–1,000) is past the last page and measures an empty page`);
  log(`bench:scale on ${DATABASE === 'sqlite' ? 'SQLite' : 'PostgreSQL'}: ${PER_MSP} accounts per MSP; ${REQUESTS} sequential requests per operation`);
  const small = await phase('small', PER_MSP, 1);
  const large = await phase('large', PER_MSP * MSPS, MSPS);
  const ratios: Record<string, { p50: number; mean: number }> = {};
  for (const op of Object.keys(small.latencies)) {
    const a = small.latencies[op] as Latency;
    const b = large.latencies[op] as Latency;
    ratios[op] = { p50: round(b.p50Ms / a.p50Ms, 2), mean: round(b.meanMs / a.meanMs, 2) };
  }
  const [at, atSmall] = [count(large.accounts), count(small.accounts)];
  const targets = [
    { target: `get latency at ${at} ≤ 1.5 × at ${atSmall} (p50)`, met: (ratios.get?.p50 ?? Infinity) <= 1.5, measured: ratios.get?.p50 },
    { target: `first page latency at ${at} ≤ 1.5 × at ${atSmall} (p50)`, met: (ratios.firstPage?.p50 ?? Infinity) <= 1.5, measured: ratios.firstPage?.p50 },
    { target: `page 50 latency at ${at} ≤ 2 × at ${atSmall} (p50)`, met: (ratios.page50?.p50 ?? Infinity) <= 2, measured: ratios.page50?.p50 },
    { target: `server peak RSS at ${at} < 300 MB`, met: large.peakRssMb < 300, measured: large.peakRssMb },
  ];
  const output = { measuredAt: new Date().toISOString(), database: DATABASE === 'sqlite' ? 'sqlite' : 'postgres', requestsPerOperation: REQUESTS, small, large, ratios, targets };
  const file = join(OUTPUT_DIR, DATABASE === 'sqlite' ? 'scale-results.json' : 'scale-results.postgres.json');
  writeFileSync(file, `${JSON.stringify(output, null, 2)}\n`);
  log('');
  log(`| operation | p50 at ${atSmall} (ms) | p50 at ${at} (ms) | ratio | mean ratio |`);
  log('|---|---:|---:|---:|---:|');
  for (const op of Object.keys(ratios)) {
    log(`| ${op} | ${small.latencies[op]?.p50Ms} | ${large.latencies[op]?.p50Ms} | ${ratios[op]?.p50} | ${ratios[op]?.mean} |`);
  }
  log(`| peak RSS (MB) | ${small.peakRssMb} | ${large.peakRssMb} | | |`);
  log('');
  for (const t of targets) log(`${t.met ? 'met    ' : 'MISSED '} ${t.target}: ${t.measured}`);
  log(`\nwrote ${file}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
