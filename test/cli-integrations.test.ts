import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createAccount, createApiToken } from '../src/domain/accounts.ts';
import { secretPurpose } from '../src/domain/integrations.ts';
import { parseEncryptionKey, SecretBox } from '../src/domain/secret-box.ts';
import { call, DIALECTS, type TestDatabase } from './helpers/app.ts';
import { assertFails, childEnv, databaseAndApp, jsonOf, ROOT, runSteward, type CliResult } from './helpers/cli.ts';

const INTEGRATION = /^accss_crdntl_[0-9a-f]{16}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

interface Target {
  db: TestDatabase;
  /** Extra environment for every child: the Postgres schema and, there, the encryption key. */
  env: Record<string, string>;
  /** The key the children use (SQLite: the key file beside the database, made on first use). */
  key(): Buffer;
}

/** Runs the CLI on the target's database with its environment, plus `env`; never rejects. */
function steward(target: Target, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runSteward(target.db.url, args, { ...target.env, ...env });
}

async function target(t: TestContext, dialect: 'sqlite' | 'postgres'): Promise<Target & { app: FastifyInstance }> {
  const { db, app } = await databaseAndApp(t, dialect);
  const hexKey = randomBytes(32).toString('hex');
  const env: Record<string, string> = dialect === 'postgres' ? { ...db.env, STEWARD_ENCRYPTION_KEY: hexKey } : { ...db.env };
  const key = () =>
    dialect === 'postgres' ? Buffer.from(hexKey, 'hex') : (parseEncryptionKey(readFileSync(join(dirname(db.url), 'steward.key'), 'utf8')) as Buffer);
  return { db, env, key, app };
}

for (const dialect of DIALECTS) {
  describe(`CLI integrations [${dialect.name}]`, { skip: dialect.skip }, () => {
    test('create for every provider, list, show and delete: --json prints exactly what the API returns', async (t) => {
      const cli = await target(t, dialect.name);
      const account = jsonOf(await steward(cli, ['accounts', 'create', '--name', 'CLI MSP', '--msp', '--json']));
      const other = jsonOf(await steward(cli, ['accounts', 'create', '--name', 'Other MSP', '--msp', '--json']));
      const api = (await createApiToken(cli.db.store.db, { accountToken: account.token, scopes: 'read,write' })).token;
      const workspace = (
        await cli.db.store.db.selectFrom('workspaces as w').innerJoin('accounts as a', 'a.id', 'w.account_id').select('w.token').where('a.token', '=', account.token).executeTakeFirstOrThrow()
      ).token;
      const create = (...args: string[]) => steward(cli, ['integrations', 'create', '--account', account.token, ...args, '--json']);

      const [aws, custom, gcp, azure, csp] = await Promise.all([
        create('--provider', 'aws', '--account-identifier', '123456789012'),
        create('--provider', 'custom_provider', '--name', 'Colo', '--description', 'Rack space'),
        create('--provider', 'gcp', '--account-identifier', '011389-EF4C3E-3ED7AE', '--project-id', 'acme', '--dataset-name', 'billing'),
        steward(cli, ['integrations', 'create', '--account', account.token, '--provider', 'azure', '--tenant', 'contoso', '--app-id', 'app-1', '--json'], {
          STEWARD_INTEGRATION_PASSWORD: 'cli-azure-password-1',
        }),
        create('--provider', 'azure_csp', '--account-identifier', 'csp-partner'),
      ]);
      const made = [aws, custom, gcp, azure, csp].map(jsonOf);
      const expected: Array<[string, string, string]> = [
        ['aws', '123456789012', 'pending'],
        ['custom_provider', 'Colo', 'connected'],
        ['gcp', '011389-EF4C3E-3ED7AE', 'pending'],
        ['azure', 'contoso', 'pending'],
        ['azure_csp', 'csp-partner', 'pending'],
      ];
      for (const [i, [provider, account_identifier, status]] of expected.entries()) {
        const integration = made[i];
        assert.match(integration.token, INTEGRATION);
        assert.match(integration.created_at, ISO);
        assert.deepEqual(integration, {
          token: integration.token,
          provider,
          account_identifier,
          status,
          last_updated: null,
          workspace_tokens: [workspace],
          created_at: integration.created_at,
          managed_account_tokens: [],
          enriched_by: [],
        });
        // The API shows the same object.
        assert.deepEqual((await call(cli.app, 'GET', `/v2/integrations/${integration.token}`, { token: api })).body, integration);
      }
      const azureToken = made[3].token as string;
      const row = await cli.db.store.db.selectFrom('integrations').select(['secret', 'settings']).where('token', '=', azureToken).executeTakeFirstOrThrow();
      assert.ok(row.secret && !row.secret.includes('cli-azure-password-1'));
      assert.deepEqual(JSON.parse(row.settings), { tenant: 'contoso', app_id: 'app-1' });
      assert.equal(new SecretBox(cli.key()).open(secretPurpose(azureToken), row.secret), 'cli-azure-password-1');

      const listed = jsonOf(await steward(cli, ['integrations', 'list', '--account', account.token, '--json']));
      assert.deepEqual(new Set(listed.integrations.map((i: { token: string }) => i.token)), new Set(made.map((i) => i.token)));
      const apiList = await call(cli.app, 'GET', '/v2/integrations', { token: api });
      assert.deepEqual(listed.integrations, apiList.body.integrations, 'the same order and content as the API');
      assert.deepEqual(jsonOf(await steward(cli, ['integrations', 'list', '--account', account.token, '--provider', 'gcp', '--json'])), { integrations: [made[2]] });
      assert.deepEqual(jsonOf(await steward(cli, ['integrations', 'list', '--account', other.token, '--json'])), { integrations: [] });
      const human = await steward(cli, ['integrations', 'list', '--account', account.token, '--provider', 'custom_provider']);
      assert.equal(human.code, 0, human.stderr);
      assert.equal(human.stdout, `${made[1].token}  custom_provider  Colo  connected\n`);

      assert.deepEqual(jsonOf(await steward(cli, ['integrations', 'show', made[0].token, '--account', account.token, '--json'])), made[0]);
      const shown = await steward(cli, ['integrations', 'show', made[0].token, '--account', account.token]);
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(shown.stdout, new RegExp(`^${made[0].token}  aws  123456789012  pending\\n  workspaces: ${workspace}\\n  delegated to: \\(none\\)\\n`));
      assertFails(await steward(cli, ['integrations', 'show', made[0].token, '--account', other.token]), /^steward: Integration not found\n$/);

      assert.deepEqual(jsonOf(await steward(cli, ['integrations', 'delete', made[1].token, '--account', account.token, '--json'])), { token: made[1].token, deleted: true });
      assert.equal((await call(cli.app, 'GET', `/v2/integrations/${made[1].token}`, { token: api })).status, 404);
      assertFails(await steward(cli, ['integrations', 'delete', made[1].token, '--account', account.token]), /^steward: Integration not found\n$/);
      assertFails(await steward(cli, ['integrations', 'delete', made[0].token, '--account', other.token]), /^steward: Integration not found\n$/);
      const deletedHuman = await steward(cli, ['integrations', 'delete', made[0].token, '--account', account.token]);
      assert.equal(deletedHuman.stdout, `Deleted integration ${made[0].token}\n`);
    });

    test('bad input: a message naming the field, exit 1, nothing written', async (t) => {
      const cli = await target(t, dialect.name);
      const account = jsonOf(await steward(cli, ['accounts', 'create', '--name', 'CLI MSP', '--msp', '--json']));
      const runs = await Promise.all([
        steward(cli, ['integrations', 'create', '--account', account.token, '--provider', 'gcp', '--account-identifier', 'X', '--project-id', 'p']),
        steward(cli, ['integrations', 'create', '--account', account.token, '--provider', 'azure', '--tenant', 't', '--app-id', 'a']),
        steward(cli, ['integrations', 'create', '--account', account.token, '--provider', 'oracle', '--account-identifier', 'x']),
        steward(cli, ['integrations', 'create', '--account', account.token, '--provider', 'aws']),
        steward(cli, ['integrations', 'list', '--account', account.token, '--provider', 'nope']),
        steward(cli, ['integrations', 'show', 'accss_crdntl_0000000000000000', '--account', account.token]),
        steward(cli, ['integrations', 'list', '--account', 'acct_0000000000000000']),
      ]);
      const messages = [
        /^steward: dataset_name is required\n$/,
        /^steward: password is required\n$/,
        /^steward: provider must be one of aws, azure_csp, custom_provider, gcp, azure\n$/,
        /^steward: account_identifier is required\n$/,
        /^steward: provider must be one of aws, azure, gcp, /,
        /^steward: Integration not found\n$/,
        /^steward: account acct_0000000000000000 does not exist\n$/,
      ];
      runs.forEach((run, i) => assertFails(run, messages[i] as RegExp));
      assert.equal((await cli.db.store.db.selectFrom('integrations').selectAll().execute()).length, 0);
    });

    test('serve logs no Azure password, whether the create succeeds or fails', async (t) => {
      const cli = await target(t, dialect.name);
      const account = await createAccount(cli.db.store.db, { name: 'Logged MSP', msp: false });
      const token = (await createApiToken(cli.db.store.db, { accountToken: account.token, scopes: 'read,write' })).token;
      const child = spawn(process.execPath, ['bin/steward.js', 'serve', '--port', '0', '--host', '127.0.0.1', '--database', cli.db.url], {
        cwd: ROOT,
        env: childEnv({ ...cli.env, LOG_LEVEL: 'debug' }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      t.after(async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      });
      const origin = await new Promise<string>((resolve, reject) => {
        const timer = setInterval(() => {
          const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
          if (match) {
            clearInterval(timer);
            resolve(match[1] as string);
          } else if (child.exitCode !== null) {
            clearInterval(timer);
            reject(new Error(`serve exited: ${out}`));
          }
        }, 50);
      });
      const password = `log-probe-${randomBytes(8).toString('hex')}`;
      const post = (body: string) =>
        fetch(`${origin}/v2/integrations/azure`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
      const ok = await post(JSON.stringify({ tenant: 't', app_id: 'a', password }));
      assert.equal(ok.status, 201);
      assert.ok(!(await ok.text()).includes(password));
      const missing = await post(JSON.stringify({ tenant: '', app_id: 'a', password }));
      assert.equal(missing.status, 400);
      assert.ok(!(await missing.text()).includes(password));
      const wrongType = await post(JSON.stringify({ tenant: 't', app_id: 7, password }));
      assert.equal(wrongType.status, 400);
      const query = await fetch(`${origin}/v2/integrations?provider=azure`, { headers: { authorization: `Bearer ${token}` } });
      assert.ok(!(await query.text()).includes(password));
      child.kill('SIGTERM');
      await exited;
      assert.match(out, /request completed/, 'the server did log the requests');
      assert.ok(!out.includes(password), `the log contains the password:\n${out}`);
    });
  });
}
