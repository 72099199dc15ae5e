import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createAccount } from '../src/domain/accounts.ts';
import { call, DIALECTS, uniqueEmail } from './helpers/app.ts';
import { assertFails, databaseAndApp, jsonOf, steward } from './helpers/cli.ts';
import { startServe, type Server } from './helpers/serve.ts';

const ACCT = /^acct_[0-9a-f]{16}$/;
const SECRET = /^vntg_tkn_[0-9a-f]{40}$/;
const INTEGRATION = /^accss_crdntl_[0-9a-f]{16}$/;
const RULE = /^bllng_rule_[0-9a-f]{16}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

for (const dialect of DIALECTS) {
  describe(`CLI [${dialect.name}]`, { skip: dialect.skip }, () => {
    test('accounts, integrations and billing rules: --json prints exactly the resource, and they work in the API', async (t) => {
      const { db, app } = await databaseAndApp(t, dialect.name);

      const account = jsonOf(await steward(db, 'accounts', 'create', '--name', 'X', '--msp', '--json'));
      assert.match(account.token, ACCT);
      assert.match(account.created_at, ISO);
      assert.deepEqual(account, { token: account.token, name: 'X', msp: true, msp_invoicing: false, created_at: account.created_at });

      const [integrationRun, ruleRun, writeTokenRun] = await Promise.all([
        steward(db, 'integrations', 'create', '--account', account.token, '--provider', 'aws', '--account-identifier', '123', '--json'),
        steward(db, 'billing-rules', 'create', '--account', account.token, '--type', 'adjustment', '--title', 'T', '--percentage', '75', '--json'),
        // Without --json: the secret on its own line, then a note.
        steward(db, 'tokens', 'create', '--account', account.token, '--scopes', 'write,read'),
      ]);

      const integration = jsonOf(integrationRun);
      assert.match(integration.token, INTEGRATION);
      assert.match(integration.workspace_tokens[0], /^wrkspc_[0-9a-f]{16}$/, 'it feeds the account\'s default workspace');
      assert.deepEqual(integration, {
        token: integration.token,
        provider: 'aws',
        account_identifier: '123',
        status: 'pending',
        last_updated: null,
        workspace_tokens: [integration.workspace_tokens[0]],
        created_at: integration.created_at,
        managed_account_tokens: [],
        enriched_by: [],
      });
      assert.match(integration.created_at, ISO);

      const rule = jsonOf(ruleRun);
      assert.match(rule.token, RULE);
      assert.match(rule.created_at, ISO);
      assert.deepEqual(rule, {
        token: rule.token,
        title: 'T',
        type: 'adjustment',
        start_date: null,
        end_date: null,
        apply_to_all: false,
        created_by_token: account.token,
        created_at: rule.created_at,
        charge_type: null,
        percentage: '75.0',
        service: null,
        category: null,
        sub_category: null,
        start_period: null,
        amount: null,
        sql_query: null,
        execution_stage: 3,
        execution_stage_name: 'COST transforms',
      });

      // The CLI-made integration and rule are the MSP's own: a CLI-made write token can use them.
      assert.equal(writeTokenRun.code, 0, writeTokenRun.stderr);
      const human = /^(vntg_tkn_[0-9a-f]{40})\n\(scopes read,write; [^)]*\)\n$/.exec(writeTokenRun.stdout);
      assert.ok(human, writeTokenRun.stdout);
      const created = await call(app, 'POST', '/v2/managed_accounts', {
        token: human[1],
        body: { name: 'Acme', contact_email: uniqueEmail(), access_credential_tokens: [integration.token], billing_rule_tokens: [rule.token] },
      });
      assert.equal(created.status, 201, created.raw);
      assert.equal(created.body.parent_account_token, account.token);
      assert.deepEqual(created.body.access_credential_tokens, [integration.token]);
      assert.deepEqual(created.body.billing_rule_tokens, [rule.token]);
    });

    test('tokens create prints the secret once, stores only its SHA-256, authenticates; revoke makes it 401 at once', async (t) => {
      const { db, app } = await databaseAndApp(t, dialect.name);
      const account = await createAccount(db.store.db, { name: 'CLI MSP', msp: true });

      const created = jsonOf(await steward(db, 'tokens', 'create', '--account', account.token, '--scopes', 'read', '--description', 'ci', '--json'));
      assert.match(created.token, SECRET);
      assert.deepEqual(created.scopes, ['read']);
      assert.equal(created.description, 'ci');
      assert.equal(created.account_token, account.token);

      const rows = await db.store.db.selectFrom('api_tokens').selectAll().execute();
      assert.equal(rows.length, 1);
      const row = rows[0] as (typeof rows)[number];
      for (const [column, value] of Object.entries(row)) {
        assert.ok(!String(value).includes(created.token), `api_tokens.${column} must not hold the secret`);
      }
      assert.equal(row.token_hash, createHash('sha256').update(created.token).digest('hex'));
      assert.equal(row.scopes, 'read');
      assert.equal(row.description, 'ci');
      assert.equal(row.revoked_at, null);

      const ok = await call(app, 'GET', '/v2/managed_accounts', { token: created.token });
      assert.equal(ok.status, 200, ok.raw);
      assert.deepEqual(ok.body.managed_accounts, []);
      const write = await call(app, 'POST', '/v2/managed_accounts', { token: created.token, body: { name: 'No', contact_email: uniqueEmail() } });
      assert.equal(write.status, 403, 'a read token cannot write');

      const revoked = await steward(db, 'tokens', 'revoke', created.token);
      assert.equal(revoked.code, 0, revoked.stderr);
      assert.equal(revoked.stderr, '');
      assert.doesNotMatch(revoked.stdout, /vntg_tkn_/);
      const after = await call(app, 'GET', '/v2/managed_accounts', { token: created.token });
      assert.equal(after.status, 401, after.raw);
      assert.match(String(after.headers['www-authenticate']), /invalid_token/);
      const stored = await db.store.db.selectFrom('api_tokens').select('revoked_at').executeTakeFirstOrThrow();
      assert.match(String(stored.revoked_at), ISO);

      // Revoking again fails and says why.
      assertFails(await steward(db, 'tokens', 'revoke', created.token), /steward: .*(unknown|revoked)/);
    });

    test('failures exit non-zero with the message on stderr and nothing on stdout', async (t) => {
      const { db } = await databaseAndApp(t, dialect.name);
      const account = await createAccount(db.store.db, { name: 'CLI MSP', msp: true });
      const ghost = 'acct_0000000000000000';
      const rule = (...extra: string[]) => steward(db, 'billing-rules', 'create', '--account', account.token, '--title', 'T', '--json', ...extra);

      // Each CLI run costs a couple of seconds of start-up, so only distinct code paths are run.
      const [customSelect, chargeNoAmount, tokenGhost, integrationGhost, adminScope, missingName, gcpBare] = await Promise.all([
        rule('--type', 'custom', '--sql-query', 'SELECT 1'),
        rule('--type', 'charge', '--service', 'MSP', '--start-date', '2024-05-01'),
        steward(db, 'tokens', 'create', '--account', ghost, '--json'),
        steward(db, 'integrations', 'create', '--account', ghost, '--provider', 'aws', '--account-identifier', '1', '--json'),
        steward(db, 'tokens', 'create', '--account', account.token, '--scopes', 'admin', '--json'),
        steward(db, 'accounts', 'create', '--msp', '--json'),
        steward(db, 'integrations', 'create', '--account', account.token, '--provider', 'gcp', '--billing-account-id', 'B-1', '--json'),
      ]);
      assertFails(customSelect, /steward: .*sql_query/);
      assertFails(chargeNoAmount, /steward: .*amount/);
      for (const run of [tokenGhost, integrationGhost]) assertFails(run, /steward: .*acct_0000000000000000/);
      assertFails(adminScope, /steward: .*scopes/);
      assertFails(missingName, /--name/); // commander's own error path
      // Several problems: one `steward:` line each.
      assertFails(gcpBare, /project_id/);
      assert.deepEqual(gcpBare.stderr.trimEnd().split('\n'), ['steward: project_id is required', 'steward: dataset_name is required']);

      // Nothing was written by any of them.
      assert.equal((await db.store.db.selectFrom('billing_rules').selectAll().execute()).length, 0);
      assert.equal((await db.store.db.selectFrom('integrations').selectAll().execute()).length, 0);
      assert.equal((await db.store.db.selectFrom('api_tokens').selectAll().execute()).length, 0);
      assert.equal((await db.store.db.selectFrom('accounts').selectAll().execute()).length, 1);
    });

    // `npm start` runs on the embedded default, so the demo is exercised on SQLite only.
    if (dialect.name === 'sqlite') {
      test('serve on a port another program holds exits 1 and says how to pick another', async (t) => {
        const blocker = createServer();
        await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
        t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
        const port = (blocker.address() as AddressInfo).port;
        const { db } = await databaseAndApp(t, dialect.name);
        const run = await steward(db, 'serve', '--port', String(port), '--host', '127.0.0.1');
        assertFails(run, new RegExp(`^steward: listen EADDRINUSE: address already in use 127\\.0\\.0\\.1:${port}: another program is using that port; choose another with --port or PORT\\n$`));
      });

      test('serve without --demo on an empty database says how to make an MSP and a token, and shows both addresses', async (t) => {
        const dir = mkdtempSync(join(tmpdir(), 'steward-plain-'));
        const path = join(dir, 'steward.sqlite');
        const server = startServe(path, ['--public-url', 'https://steward.example.com']);
        t.after(async () => {
          await server.stop();
          rmSync(dir, { recursive: true, force: true });
        });
        await server.waitFor(/tokens create --account <acct_token from above>.*\n/);
        const out = server.stdout();
        assert.match(out, /Steward is listening on http:\/\/127\.0\.0\.1:[1-9]\d* \(database \S+; public URL https:\/\/steward\.example\.com\)/);
        assert.match(out, /No MSP account yet[^\n]*\n {2}npx steward accounts create --name "My MSP" --msp --database \S+\n/);
        assert.doesNotMatch(out, /vntg_tkn_|Created a demo/);
      });

      test('serve --demo on an empty database prints a working write token and curl; a restart prints no secret', async (t) => {
        const dir = mkdtempSync(join(tmpdir(), 'steward-demo-'));
        const path = join(dir, 'nested', 'steward.sqlite'); // does not exist yet
        const servers: Server[] = [];
        t.after(async () => {
          for (const server of servers) await server.stop();
          rmSync(dir, { recursive: true, force: true });
        });

        const first = startServe(path);
        servers.push(first);
        const banner = await first.waitFor(/List them:\n {2}curl -sS (\S+)\/v2\/managed_accounts -H "Authorization: Bearer (vntg_tkn_[0-9a-f]{40})"\n/);
        await first.waitFor(/Or open the web console and sign in with the token:\n {2}\S+\/console\n/); // the banner's last line may come in a later chunk
        const out = first.stdout();
        const origin = /Steward is listening on (http:\/\/\S+) /.exec(out)?.[1];
        assert.ok(origin, out);
        const port = Number(new URL(origin).port);
        assert.ok(port > 0, `the printed origin must carry the bound port, not 0: ${origin}`);
        assert.equal(banner[1], origin);
        assert.ok(out.includes(`Or open the web console and sign in with the token:\n  ${origin}/console\n`), out);
        const consolePage = await fetch(`${origin}/console`).catch((e: Error) => e);
        assert.ok(!(consolePage instanceof Error), String(consolePage));
        assert.equal(consolePage.status, 200, 'npm start serves the console it points at');
        assert.match(await consolePage.text(), /<title>Steward console<\/title>/);

        const demo = /Created a demo MSP account (acct_[0-9a-f]{16}) with integration (accss_crdntl_[0-9a-f]{16})\nand billing rules (bllng_rule_[0-9a-f]{16}) \([^)]*\), (bllng_rule_[0-9a-f]{16}) \([^)]*\)\./.exec(out);
        assert.ok(demo, out);
        const [, accountToken, integrationToken, ruleA, ruleB] = demo as unknown as [string, string, string, string, string];
        const curl = new RegExp(
          String.raw`curl -sS -X POST (\S+) \\\n\s+-H "Authorization: Bearer (vntg_tkn_[0-9a-f]{40})" -H "Content-Type: application/json" \\\n\s+-d '([^']*)'\n`,
        ).exec(out);
        assert.ok(curl, `a ready-to-paste curl: ${out}`);
        const [, url, secret, body] = curl as unknown as [string, string, string, string];
        assert.equal(url, `${origin}/v2/managed_accounts`);
        assert.equal(secret, banner[2]);
        assert.match(out, new RegExp(`Read and write token[^\\n]*\\n {2}${secret}\\n`));

        const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' }, body });
        const createdText = await res.text();
        assert.equal(res.status, 201, createdText);
        const created = JSON.parse(createdText);
        assert.match(created.token, ACCT);
        assert.equal(created.parent_account_token, accountToken);
        assert.deepEqual(created.access_credential_tokens, [integrationToken]);
        assert.deepEqual(created.billing_rule_tokens, [ruleA, ruleB]);
        const listed = await fetch(`${origin}/v2/managed_accounts`, { headers: { authorization: `Bearer ${secret}` } });
        assert.equal(listed.status, 200);
        assert.deepEqual(((await listed.json()) as { managed_accounts: unknown[] }).managed_accounts, [created]);

        assert.equal(await first.stop(), 0, 'SIGTERM shuts down cleanly');

        // The same database again: not empty, so no demo and no secret, only how to make a token.
        const second = startServe(path);
        servers.push(second);
        const hint = await second.waitFor(/npx steward (tokens create --account (acct_[0-9a-f]{16}) --scopes read,write --database \S+)\n/);
        assert.equal(hint[2], accountToken, 'the hint names the demo MSP');
        assert.doesNotMatch(second.stdout(), /vntg_tkn_/);
        assert.doesNotMatch(second.stderr(), /vntg_tkn_/);
        assert.doesNotMatch(second.stdout(), /Created a demo/);

        // The printed command works as written (with `node bin/steward.js` for `npx steward`), against the running server's database.
        const printed = (hint[1] as string).split(' ');
        const dbAt = printed.indexOf('--database');
        const made = await steward({ url: printed[dbAt + 1] as string, env: {} }, ...printed.slice(0, dbAt));
        assert.equal(made.code, 0, made.stderr);
        const fresh = /vntg_tkn_[0-9a-f]{40}/.exec(made.stdout)?.[0];
        assert.ok(fresh, made.stdout);
        const secondOrigin = /Steward is listening on (http:\/\/\S+) /.exec(second.stdout())?.[1] as string;
        const again = await fetch(`${secondOrigin}/v2/managed_accounts`, { headers: { authorization: `Bearer ${fresh}` } });
        assert.equal(again.status, 200);
        assert.equal(((await again.json()) as { managed_accounts: unknown[] }).managed_accounts.length, 1, 'the demo data survived the restart');
        assert.equal(await second.stop(), 0);
      });
    }
  });
}
