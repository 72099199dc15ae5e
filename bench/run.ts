/**
 * npm run bench: Steward against the practical limit (a bare node:http server answering a stored account) and
 * against a Prism mock of the Vantage contract, on this machine, in one run. Every target is measured in each of
 * BENCH_ROUNDS rounds, round-robin, so drift on a shared machine affects all alike; each figure reported is the
 * median of its own values across the rounds (every round is kept in results.json).
 * Writes bench/results.json (the committed figures; BENCH_OUTPUT_DIR to write elsewhere). Nothing is skipped: every Steward request authenticates (a token lookup), is validated,
 * rate-limited (with the limit raised), logged (to /dev/null) and hits the database; creates and updates commit and
 * write their audit record.
 *
 * Settings (environment): BENCH_CONNECTIONS (64), BENCH_DURATION_SECONDS (5), BENCH_ROUNDS (3), BENCH_ACCOUNTS (1000
 * seeded per database), BENCH_PG_URL (postgres://postgres@127.0.0.1:5432/test; the run uses its own database
 * `steward_bench` on that server), BENCH_SKIP_PG=1, BENCH_SKIP_PRISM=1, BENCH_OUTPUT_DIR.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, freshPostgresDatabase, measure, median, round, startProcess, startSteward, CONTRACT, OUTPUT_DIR, ROOT, type Measurement, type Running } from './lib.ts';
import { seedMsp, type BenchMsp } from './seed.ts';

const env = process.env;
const CONNECTIONS = Number(env.BENCH_CONNECTIONS ?? 64);
const DURATION = Number(env.BENCH_DURATION_SECONDS ?? 5);
const ROUNDS = Number(env.BENCH_ROUNDS ?? 3);
const ACCOUNTS = Number(env.BENCH_ACCOUNTS ?? 1000);
const PG_ADMIN_URL = env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

interface Target {
  key: string;
  system: 'baseline' | 'steward-sqlite' | 'steward-postgres' | 'prism';
  operation: 'get' | 'list100' | 'create' | 'update';
  describe: string;
  run: (durationSeconds: number) => Promise<Measurement>;
}

const runId = randomBytes(3).toString('hex');
let sequence = 0;
const unique = () => `${runId}-${++sequence}`;

function createBody(msp: BenchMsp | null): () => { body: string } {
  return () => {
    const n = unique();
    const body = JSON.stringify({
      name: `Bench customer ${n}`,
      contact_email: `admin-${n}@bench-${n}.example.com`,
      ...(msp ? { access_credential_tokens: [msp.integrationToken], billing_rule_tokens: msp.ruleTokens } : {}),
    });
    return { body };
  };
}

function stewardTargets(system: 'steward-sqlite' | 'steward-postgres', server: Running, msp: BenchMsp): Target[] {
  const headers = { authorization: `Bearer ${msp.token}` };
  const one = msp.accounts[0]?.token as string;
  const at = (durationSeconds: number) => ({ connections: CONNECTIONS, durationSeconds, headers });
  // Updates rename the first 100 accounts in turn (64 connections on one row would measure its lock, not Steward).
  const updated = msp.accounts.slice(0, 100).map((a) => a.token);
  let renames = 0;
  const rename = () => {
    renames += 1;
    return { path: `/v2/managed_accounts/${updated[renames % updated.length]}`, body: JSON.stringify({ name: `Renamed ${runId} ${renames}` }) };
  };
  const accountsUrl = `${server.url}/v2/managed_accounts`;
  return [
    { key: `${system}:get`, system, operation: 'get', describe: 'GET /v2/managed_accounts/{token}', run: (d) => measure({ ...at(d), url: `${accountsUrl}/${one}` }) },
    { key: `${system}:list100`, system, operation: 'list100', describe: 'GET /v2/managed_accounts?limit=100', run: (d) => measure({ ...at(d), url: `${accountsUrl}?limit=100` }) },
    { key: `${system}:create`, system, operation: 'create', describe: 'POST /v2/managed_accounts (each unique)', run: (d) => measure({ ...at(d), url: accountsUrl, method: 'POST', each: createBody(msp) }) },
    { key: `${system}:update`, system, operation: 'update', describe: 'PUT /v2/managed_accounts/{token} (100 accounts in turn)', run: (d) => measure({ ...at(d), url: `${accountsUrl}/${one}`, method: 'PUT', each: rename }) },
  ];
}

async function main(): Promise<void> {
  const started: Running[] = [];
  const workdir = mkdtempSync(join(tmpdir(), 'steward-bench-'));
  try {
    const targets: Target[] = [];
    const log = (line: string) => process.stdout.write(`${line}\n`);
    log(`bench: ${CONNECTIONS} connections, ${DURATION} s per measurement, ${ROUNDS} rounds, ${ACCOUNTS} accounts seeded per database`);

    const sqliteUrl = join(workdir, 'steward.sqlite');
    log('seeding SQLite…');
    const sqliteMsp = await seedMsp(sqliteUrl, ACCOUNTS);
    const sqlite = await startSteward('steward-sqlite', sqliteUrl);
    started.push(sqlite);

    const baselinePort = await freePort();
    const baseline = await startProcess('baseline', process.execPath, ['--import', 'tsx', 'bench/baseline-server.ts'], {
      port: baselinePort,
      probe: '/',
      env: { PORT: String(baselinePort), BASELINE_BODY: JSON.stringify(sqliteMsp.accounts[0]) },
    });
    started.push(baseline);
    targets.push({ key: 'baseline:get', system: 'baseline', operation: 'get', describe: 'node:http, stored account JSON', run: (d) => measure({ url: baseline.url, connections: CONNECTIONS, durationSeconds: d }) });
    targets.push(...stewardTargets('steward-sqlite', sqlite, sqliteMsp));

    if (env.BENCH_SKIP_PG !== '1') {
      log('seeding PostgreSQL…');
      const pgUrl = await freshPostgresDatabase(PG_ADMIN_URL, 'steward_bench', ': set BENCH_PG_URL, or BENCH_SKIP_PG=1 to measure SQLite only');
      const pgMsp = await seedMsp(pgUrl, ACCOUNTS);
      const postgres = await startSteward('steward-postgres', pgUrl);
      started.push(postgres);
      targets.push(...stewardTargets('steward-postgres', postgres, pgMsp));
    }

    const contractMissing = !existsSync(CONTRACT);
    if (contractMissing) log(`Prism skipped: the contract ${CONTRACT} is not there (the team's shared folder beside the checkout)`);
    if (env.BENCH_SKIP_PRISM !== '1' && !contractMissing) {
      const prismPort = await freePort();
      const prism = await startProcess('prism', join(ROOT, 'bench', 'node_modules', '.bin', 'prism'), ['mock', '-h', '127.0.0.1', '-p', String(prismPort), CONTRACT], {
        port: prismPort,
        probe: '/managed_accounts',
        probeHeaders: { authorization: 'Bearer x' },
      });
      started.push(prism);
      const headers = { authorization: `Bearer vntg_tkn_${'0'.repeat(40)}` };
      const at = (durationSeconds: number) => ({ connections: CONNECTIONS, durationSeconds, headers });
      targets.push({ key: 'prism:get', system: 'prism', operation: 'get', describe: 'Prism GET /managed_accounts/{token}', run: (d) => measure({ ...at(d), url: `${prism.url}/managed_accounts/${sqliteMsp.accounts[0]?.token}` }) });
      targets.push({ key: 'prism:create', system: 'prism', operation: 'create', describe: 'Prism POST /managed_accounts', run: (d) => measure({ ...at(d), url: `${prism.url}/managed_accounts`, method: 'POST', each: createBody(null) }) });
    }

    // One short load per target first: JIT, statement caches and connection pools warm before any figure counts.
    log('warming up…');
    for (const target of targets) await target.run(2);

    const samples = new Map<string, Measurement[]>(targets.map((t) => [t.key, []]));
    for (let r = 1; r <= ROUNDS; r++) {
      for (const target of targets) {
        const m = await target.run(DURATION);
        samples.get(target.key)?.push(m);
        log(`round ${r}/${ROUNDS} ${target.key.padEnd(26)} ${m.requestsPerSecond.toFixed(0).padStart(7)} req/s  p50 ${m.p50Ms} ms  p99 ${m.p99Ms} ms  non-2xx ${m.non2xx}  errors ${m.errors}`);
      }
    }

    const summary = targets.map((t) => summarise(t, samples.get(t.key) ?? []));
    const baselineRps = summary.find((s) => s.key === 'baseline:get')?.requestsPerSecond ?? NaN;
    const prismRps = (op: string) => summary.find((s) => s.key === `prism:${op}`)?.requestsPerSecond;
    const rows = summary.map((s) => {
      const prism = s.system.startsWith('steward') ? prismRps(s.operation) : undefined;
      return {
        ...s,
        ratioToBaseline: round(s.requestsPerSecond / baselineRps, 3),
        ratioToPrism: prism ? round(s.requestsPerSecond / prism, 2) : null,
      };
    });
    const targetsMet = checkTargets(rows);
    const output = {
      measuredAt: new Date().toISOString(),
      machine: { node: process.version, cpus: (await import('node:os')).cpus().length },
      settings: { connections: CONNECTIONS, durationSeconds: DURATION, rounds: ROUNDS, accountsSeeded: ACCOUNTS, aggregate: 'median of rounds' },
      results: rows,
      targets: targetsMet,
    };
    const file = join(OUTPUT_DIR, 'results.json');
    writeFileSync(file, `${JSON.stringify(output, null, 2)}\n`);

    log('');
    log('| target | req/s | p50 ms | p99 ms | × baseline | × Prism | non-2xx |');
    log('|---|---:|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      log(`| ${r.key} | ${r.requestsPerSecond.toFixed(0)} | ${r.p50Ms} | ${r.p99Ms} | ${r.ratioToBaseline.toFixed(3)} | ${r.ratioToPrism === null ? '–' : r.ratioToPrism.toFixed(1)} | ${r.non2xx} |`);
    }
    log('');
    for (const t of targetsMet) log(`${t.met ? 'met    ' : 'MISSED '} ${t.target}: ${t.measured}`);
    log(`\nwrote ${file}`);
  } finally {
    await Promise.all(started.map((s) => s.stop()));
    rmSync(workdir, { recursive: true, force: true });
  }
}

function summarise(target: Target, runs: Measurement[]) {
  const pick = (f: (m: Measurement) => number) => round(median(runs.map(f)), 2);
  return {
    key: target.key,
    system: target.system,
    operation: target.operation,
    describe: target.describe,
    requestsPerSecond: pick((m) => m.requestsPerSecond),
    p50Ms: pick((m) => m.p50Ms),
    p99Ms: pick((m) => m.p99Ms),
    meanMs: pick((m) => m.meanMs),
    non2xx: runs.reduce((n, m) => n + m.non2xx, 0),
    errors: runs.reduce((n, m) => n + m.errors + m.timeouts, 0),
    rounds: runs.map((m) => ({ requestsPerSecond: round(m.requestsPerSecond, 0), p50Ms: m.p50Ms, p99Ms: m.p99Ms, requests: m.requests, non2xx: m.non2xx })),
  };
}

type Row = ReturnType<typeof summarise> & { ratioToBaseline: number; ratioToPrism: number | null };

function checkTargets(rows: Row[]) {
  const get = (key: string) => rows.find((r) => r.key === key);
  const checks: { target: string; met: boolean; measured: string }[] = [];
  const ratio = (key: string, min: number, label: string) => {
    const r = get(key);
    if (r) checks.push({ target: `${label} ≥ ${min} × baseline req/s`, met: r.ratioToBaseline >= min && r.non2xx === 0, measured: `${r.ratioToBaseline.toFixed(3)} ×` });
  };
  ratio('steward-sqlite:get', 0.6, 'SQLite GET one account');
  ratio('steward-sqlite:list100', 0.2, 'SQLite list of 100');
  ratio('steward-sqlite:create', 0.35, 'SQLite create');
  for (const op of ['get', 'create']) {
    for (const system of ['steward-sqlite', 'steward-postgres']) {
      const r = get(`${system}:${op}`);
      if (r && r.ratioToPrism !== null) checks.push({ target: `${system} ${op} ≥ 20 × Prism req/s`, met: r.ratioToPrism >= 20, measured: `${r.ratioToPrism.toFixed(1)} ×` });
      if (r) checks.push({ target: `${system} ${op} p99 < 25 ms at ${CONNECTIONS} connections`, met: r.p99Ms < 25, measured: `${r.p99Ms} ms` });
    }
  }
  return checks;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
