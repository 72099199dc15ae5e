import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createAccount, createApiToken } from '../src/domain/accounts.ts';
import { call, DIALECTS, uniqueEmail } from './helpers/app.ts';
import { assertFails, databaseAndApp, jsonOf, steward } from './helpers/cli.ts';

for (const dialect of DIALECTS) {
  describe(`CLI billing-rules [${dialect.name}]`, { skip: dialect.skip }, () => {
    test('list, show and delete print what the API serves; delete takes the rule out of every managed account', async (t) => {
      const { db, app } = await databaseAndApp(t, dialect.name);
      const msp = await createAccount(db.store.db, { name: 'CLI MSP', msp: true });
      const other = await createAccount(db.store.db, { name: 'Other MSP', msp: true });
      const token = (await createApiToken(db.store.db, { accountToken: msp.token, scopes: 'read,write' })).token;
      const api = (method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown) => call(app, method, url, { token, body });

      const empty = await steward(db, 'billing-rules', 'list', '--account', msp.token);
      assert.equal(empty.code, 0, empty.stderr);
      assert.equal(empty.stdout, `No billing rules for ${msp.token}\n`);

      const fee = await api('POST', '/v2/billing_rules', { title: 'Monthly fee', type: 'charge', service: 'MSP', amount: 300, start_date: '2024-05-01', apply_to_all: true });
      const sql = await api('POST', '/v2/billing_rules', { title: 'Discount', type: 'custom', sql_query: 'UPDATE costs\nSET amount = amount * 0.95' });
      assert.equal(fee.status, 201, fee.raw);
      assert.equal(sql.status, 201, sql.raw);
      const account = await api('POST', '/v2/managed_accounts', { name: 'Customer', contact_email: uniqueEmail(), billing_rule_tokens: [sql.body.token] });
      assert.deepEqual(account.body.billing_rule_tokens, [fee.body.token, sql.body.token]);

      const [listJson, listHuman, showJson, showHuman, otherList] = await Promise.all([
        steward(db, 'billing-rules', 'list', '--account', msp.token, '--json'),
        steward(db, 'billing-rules', 'list', '--account', msp.token),
        steward(db, 'billing-rules', 'show', sql.body.token, '--account', msp.token, '--json'),
        steward(db, 'billing-rules', 'show', fee.body.token, '--account', msp.token),
        steward(db, 'billing-rules', 'list', '--account', other.token, '--json'),
      ]);
      const listed = (await api('GET', '/v2/billing_rules')).body.billing_rules;
      assert.deepEqual(jsonOf(listJson), { billing_rules: listed });
      assert.deepEqual(listed.map((r: { token: string }) => r.token), [fee.body.token, sql.body.token]);
      assert.equal(listHuman.code, 0, listHuman.stderr);
      assert.equal(listHuman.stdout, `${fee.body.token}  charge  Monthly fee  (apply to all)\n${sql.body.token}  custom  Discount\n`);
      assert.deepEqual(jsonOf(showJson), sql.body, 'show --json prints exactly the API resource');
      assert.equal(showHuman.code, 0, showHuman.stderr);
      assert.equal(
        showHuman.stdout,
        `${fee.body.token}  charge  Monthly fee  (apply to all)\n  start_date: 2024-05-01\n  created_by_token: ${msp.token}\n` +
          `  created_at: ${fee.body.created_at}\n  service: MSP\n  amount: 300.0\n  execution_stage: 2\n  execution_stage_name: COST inserts\n`,
      );
      assert.deepEqual(jsonOf(otherList), { billing_rules: [] }, "another account's list does not show these rules");

      const deleted = jsonOf(await steward(db, 'billing-rules', 'delete', fee.body.token, '--account', msp.token, '--json'));
      assert.deepEqual(deleted, { token: fee.body.token, deleted: true });
      assert.equal((await api('GET', `/v2/billing_rules/${fee.body.token}`)).status, 404);
      assert.deepEqual((await api('GET', `/v2/managed_accounts/${account.body.token}`)).body.billing_rule_tokens, [sql.body.token]);
      const human = await steward(db, 'billing-rules', 'delete', sql.body.token, '--account', msp.token);
      assert.equal(human.code, 0, human.stderr);
      assert.equal(human.stdout, `Deleted billing rule ${sql.body.token}\n`);
      assert.deepEqual((await api('GET', `/v2/managed_accounts/${account.body.token}`)).body.billing_rule_tokens, []);
    });

    test('failures exit 1 with the reason on stderr and change nothing', async (t) => {
      const { db } = await databaseAndApp(t, dialect.name);
      const msp = await createAccount(db.store.db, { name: 'CLI MSP', msp: true });
      const other = await createAccount(db.store.db, { name: 'Other MSP', msp: true });
      const created = jsonOf(
        await steward(db, 'billing-rules', 'create', '--account', msp.token, '--type', 'exclusion', '--title', 'No RI fees', '--charge-type', 'RIFee', '--json'),
      );
      const ghost = 'acct_0000000000000000';
      const [showOther, deleteOther, showUnknown, deleteMalformed, listGhost, showNoAccount] = await Promise.all([
        steward(db, 'billing-rules', 'show', created.token, '--account', other.token, '--json'),
        steward(db, 'billing-rules', 'delete', created.token, '--account', other.token),
        steward(db, 'billing-rules', 'show', 'bllng_rule_0000000000000000', '--account', msp.token),
        steward(db, 'billing-rules', 'delete', 'not-a-token', '--account', msp.token),
        steward(db, 'billing-rules', 'list', '--account', ghost),
        steward(db, 'billing-rules', 'show', created.token),
      ]);
      assertFails(showOther, new RegExp(`^steward: billing rule ${created.token} does not exist for account ${other.token}\n$`));
      assertFails(deleteOther, new RegExp(`^steward: billing rule ${created.token} does not exist for account ${other.token}\n$`));
      assertFails(showUnknown, /^steward: billing rule bllng_rule_0000000000000000 does not exist/);
      assertFails(deleteMalformed, /^steward: billing rule not-a-token does not exist/);
      assertFails(listGhost, /^steward: account acct_0000000000000000 does not exist\n$/);
      assertFails(showNoAccount, /--account/);
      const rows = await db.store.db.selectFrom('billing_rules').select('token').execute();
      assert.deepEqual(rows.map((r) => r.token), [created.token], 'the rule is still there');
    });
  });
}
