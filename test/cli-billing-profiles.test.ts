import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { createApiToken } from '../src/domain/accounts.ts';
import { call, DIALECTS, testApp, uniqueEmail, type TestDatabase } from './helpers/app.ts';
import { assertFails, jsonOf, runSteward, type CliResult } from './helpers/cli.ts';

const ACCT = /^acct_[0-9a-f]{16}$/;
const PROFILE = /^blng_prfl_[0-9a-f]{16}$/;
const NOT_MSP_BODY = '{"errors":["You do not have permission to access this resource."]}';

/** Runs the CLI on the test database with the app's encryption key; never rejects. */
function steward(db: Pick<TestDatabase, 'url' | 'env'>, key: string, ...args: string[]): Promise<CliResult> {
  return runSteward(db.url, args, { ...db.env, STEWARD_ENCRYPTION_KEY: key });
}

for (const dialect of DIALECTS) {
  describe(`CLI: MSP invoicing and billing profiles [${dialect.name}]`, { skip: dialect.skip }, () => {
    test('accounts create --invoicing and accounts invoicing --on/--off switch the API on and off', async (t) => {
      const key = randomBytes(32).toString('hex');
      const { app, db } = await testApp(t, dialect.name, { encryptionKey: key });
      const [invoicing, plainMsp, customer, invoicingCustomer] = await Promise.all([
        steward(db, key, 'accounts', 'create', '--name', 'Billed MSP', '--msp', '--invoicing', '--json'),
        steward(db, key, 'accounts', 'create', '--name', 'Plain MSP', '--msp', '--json'),
        steward(db, key, 'accounts', 'create', '--name', 'Customer', '--json'),
        steward(db, key, 'accounts', 'create', '--name', 'Customer', '--invoicing', '--json'),
      ]);
      const billed = jsonOf(invoicing);
      assert.match(billed.token, ACCT);
      assert.deepEqual(billed, { token: billed.token, name: 'Billed MSP', msp: true, msp_invoicing: true, created_at: billed.created_at });
      const plain = jsonOf(plainMsp);
      assert.equal(plain.msp_invoicing, false);
      assert.equal(jsonOf(customer).msp_invoicing, false);
      assertFails(invoicingCustomer, /steward: MSP invoicing is only for MSP accounts/);

      const token = (await createApiToken(db.store.db, { accountToken: plain.token, scopes: 'read,write' })).token;
      assert.equal((await call(app, 'GET', '/v2/billing_profiles', { token })).raw, NOT_MSP_BODY);
      const [on, notMsp, neither, both] = await Promise.all([
        steward(db, key, 'accounts', 'invoicing', plain.token, '--on', '--json'),
        steward(db, key, 'accounts', 'invoicing', jsonOf(customer).token, '--on'),
        steward(db, key, 'accounts', 'invoicing', plain.token),
        steward(db, key, 'accounts', 'invoicing', plain.token, '--on', '--off'),
      ]);
      assert.deepEqual(jsonOf(on), { ...plain, msp_invoicing: true });
      assertFails(notMsp, /steward: account acct_[0-9a-f]{16} is not an MSP account/);
      assertFails(neither, /--on or --off/);
      assert.notEqual(both.code, 0);
      assert.equal((await call(app, 'GET', '/v2/billing_profiles', { token })).status, 200);

      const off = await steward(db, key, 'accounts', 'invoicing', plain.token, '--off');
      assert.equal(off.code, 0, off.stderr);
      assert.equal(off.stdout, `MSP invoicing is off for ${plain.token} (Plain MSP)\n`);
      assert.equal((await call(app, 'GET', '/v2/billing_profiles', { token })).raw, NOT_MSP_BODY);
      assertFails(await steward(db, key, 'accounts', 'invoicing', 'acct_0000000000000000', '--on'), /steward: account acct_0000000000000000 does not exist/);
    });

    test('billing-profiles create/list/show/delete print what the API shows; delete is refused while a managed account names it', async (t) => {
      const key = randomBytes(32).toString('hex');
      const { app, db } = await testApp(t, dialect.name, { encryptionKey: key });
      const msp = jsonOf(await steward(db, key, 'accounts', 'create', '--name', 'Billed MSP', '--msp', '--invoicing', '--json'));
      const other = jsonOf(await steward(db, key, 'accounts', 'create', '--name', 'Other MSP', '--msp', '--invoicing', '--json'));
      const token = (await createApiToken(db.store.db, { accountToken: msp.token, scopes: 'read,write' })).token;

      const made = jsonOf(await steward(db, key, 'billing-profiles', 'create', '--account', msp.token, '--nickname', 'From the CLI', '--json'));
      assert.match(made.token, PROFILE);
      assert.deepEqual((await call(app, 'GET', `/v2/billing_profiles/${made.token}`, { token })).body, made);

      const secure = { account_number: '55501234567', routing_number: '011000015', iban: 'FR7630006000011234567890189', swift_bic: 'AGRIFRPP' };
      const viaApi = await call(app, 'POST', '/v2/billing_profiles', {
        token,
        body: { nickname: 'Banked', banking_information_attributes: { bank_name: 'Crédit Agricole', secure_data: secure } },
      });
      assert.equal(viaApi.status, 201, viaApi.raw);
      const account = await call(app, 'POST', '/v2/managed_accounts', { token, body: { name: 'Billed customer', contact_email: uniqueEmail() } });
      await call(app, 'PUT', `/v2/managed_accounts/${account.body.token}`, { token, body: { msp_billing_profile_token: viaApi.body.token } });
      const apiList = (await call(app, 'GET', '/v2/billing_profiles', { token })).body.billing_profiles;

      const [listJson, listHuman, show, showForeign, refused] = await Promise.all([
        steward(db, key, 'billing-profiles', 'list', '--account', msp.token, '--json'),
        steward(db, key, 'billing-profiles', 'list', '--account', msp.token),
        steward(db, key, 'billing-profiles', 'show', viaApi.body.token, '--account', msp.token, '--json'),
        steward(db, key, 'billing-profiles', 'show', viaApi.body.token, '--account', other.token, '--json'),
        steward(db, key, 'billing-profiles', 'delete', viaApi.body.token, '--account', msp.token),
      ]);
      assert.deepEqual(jsonOf(listJson), { billing_profiles: apiList });
      assert.equal(listHuman.code, 0, listHuman.stderr);
      assert.equal(listHuman.stdout, `${made.token}  From the CLI  (0 managed accounts)\n${viaApi.body.token}  Banked  (1 managed account)\n`);
      const shown = jsonOf(show);
      assert.deepEqual(shown, apiList[1]);
      assert.deepEqual(shown.banking_information_attributes.secure_data, secure, 'the CLI opens what the server sealed');
      assertFails(showForeign, /steward: Billing profile not found/);
      assertFails(refused, new RegExp(`steward: billing profile ${viaApi.body.token} is still the msp_billing_profile_token of managed account ${account.body.token}`));

      await call(app, 'PUT', `/v2/managed_accounts/${account.body.token}`, { token, body: { msp_billing_profile_token: made.token } });
      assert.deepEqual(jsonOf(await steward(db, key, 'billing-profiles', 'delete', viaApi.body.token, '--account', msp.token, '--json')), {
        token: viaApi.body.token,
        deleted: true,
      });
      assert.equal((await call(app, 'GET', `/v2/billing_profiles/${viaApi.body.token}`, { token })).status, 404);
      assertFails(await steward(db, key, 'billing-profiles', 'delete', viaApi.body.token, '--account', msp.token), /steward: Billing profile not found/);
    });
  });
}
