import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { setAccountInvoicing } from '../src/domain/accounts.ts';
import { call, DIALECTS, seedMsp, testApp, uniqueEmail } from './helpers/app.ts';
import { conformingCall } from './helpers/contract.ts';

const FIELDS = ['msp_billing_profile_token', 'payment_terms_days', 'include_managed_account_integrations', 'billing_information_attributes', 'business_information_attributes'];
const NEVER = 'blng_prfl_0000000000000000';

const api = conformingCall;

/** Everything the API shows of the MSP's managed accounts and billing profiles. */
async function everything(app: FastifyInstance, token: string, invoicing: boolean): Promise<unknown> {
  const accounts = (await api(app, 'GET', '/v2/managed_accounts?limit=1000', { token })).body;
  const profiles = invoicing ? (await api(app, 'GET', '/v2/billing_profiles?limit=1000', { token })).body : null;
  return { accounts, profiles };
}

const BILLING = {
  company_name: 'Acme Corporation',
  country_code: 'US',
  address_line_1: '1 Main St',
  address_line_2: 'Suite 5',
  city: 'Springfield',
  state: 'IL',
  postal_code: '62701',
  billing_email: ['ap@acme.example'],
};

for (const dialect of DIALECTS) {
  describe(`MSP invoicing on managed accounts [${dialect.name}]`, { skip: dialect.skip }, () => {
    test('switching invoicing on makes the invoicing records of existing accounts then, so reading never writes', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const made = [];
      for (const name of ['Before 1', 'Before 2']) {
        const res = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name, contact_email: uniqueEmail() } });
        assert.equal(res.status, 201, res.raw);
        made.push(res.body.token as string);
      }
      const records = async () => (await db.store.db.selectFrom('billing_informations').select('token').where('account_id', 'is not', null).orderBy('id').execute()).map((r) => r.token);
      assert.deepEqual(await records(), []);
      await setAccountInvoicing(db.store.db, msp.accountToken, true);
      const afterSwitch = await records();
      assert.equal(afterSwitch.length, 2);
      const list = await call(app, 'GET', '/v2/managed_accounts', { token: msp.token });
      assert.deepEqual(list.body.managed_accounts.map((m: { billing_information_attributes: { token: string } }) => m.billing_information_attributes.token), afterSwitch);
      assert.deepEqual(await records(), afterSwitch, 'the GET wrote nothing');
      assert.deepEqual(list.body.managed_accounts.map((m: { token: string }) => m.token), made);
    });

    test('invoicing off: the five keys are omitted, and sending any of them is a 400 naming it that changes nothing', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const created = await api(app, 'POST', '/v2/managed_accounts', {
        token: msp.token,
        // Not accepted on create (W2: ignored like any unknown key), whatever the parent's setting.
        body: { name: 'Acme', contact_email: uniqueEmail(), payment_terms_days: 30, msp_billing_profile_token: NEVER },
      });
      assert.equal(created.status, 201, created.raw);
      for (const field of FIELDS) assert.equal(field in created.body, false, `${field} is omitted`);
      const path = `/v2/managed_accounts/${created.body.token}`;
      const before = await everything(app, msp.token, false);
      const values: Record<string, unknown> = {
        msp_billing_profile_token: NEVER,
        payment_terms_days: 30,
        include_managed_account_integrations: true,
        billing_information_attributes: { company_name: 'X' },
        business_information_attributes: { metadata: { custom_fields: [] } },
      };
      for (const field of FIELDS) {
        const res = await api(app, 'PUT', path, { token: msp.token, body: { name: 'Renamed', [field]: values[field] } });
        assert.equal(res.status, 400, `${field}: ${res.raw}`);
        assert.deepEqual(res.body, { errors: [`${field} can only be set when MSP invoicing is enabled for your account`] });
      }
      const all = await api(app, 'PUT', path, { token: msp.token, body: values });
      assert.deepEqual(all.body.errors, FIELDS.map((f) => `${f} can only be set when MSP invoicing is enabled for your account`));
      assert.deepEqual(await everything(app, msp.token, false), before);
      // null is absent (W3), so it is not an invoicing field being set.
      const nulls = await api(app, 'PUT', path, { token: msp.token, body: Object.fromEntries(FIELDS.map((f) => [f, null])) });
      assert.equal(nulls.status, 200, nulls.raw);
      assert.deepEqual(nulls.body, created.body);
    });

    test('invoicing on: every account shows the five keys with their defaults, and the same in GET, list and PUT', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const early = (await api(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: 'Early', contact_email: uniqueEmail() } })).body;
      await setAccountInvoicing(db.store.db, msp.accountToken, true);
      const late = await api(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: 'Late', contact_email: uniqueEmail() } });
      assert.equal(late.status, 201);
      for (const account of [late.body, (await api(app, 'GET', `/v2/managed_accounts/${early.token}`, { token: msp.token })).body]) {
        assert.deepEqual(
          { ...account, billing_information_attributes: { ...account.billing_information_attributes, token: 'T' }, business_information_attributes: { ...account.business_information_attributes, token: 'T' } },
          {
            token: account.token,
            name: account.name,
            contact_email: account.contact_email,
            parent_account_token: msp.accountToken,
            access_credential_tokens: [],
            billing_rule_tokens: [],
            email_domain: null,
            msp_billing_profile_token: null,
            payment_terms_days: 10,
            include_managed_account_integrations: false,
            billing_information_attributes: {
              token: 'T',
              company_name: null,
              country_code: null,
              address_line_1: null,
              address_line_2: null,
              city: null,
              state: null,
              postal_code: null,
              billing_email: [],
            },
            business_information_attributes: { token: 'T', metadata: { custom_fields: [] } },
          },
        );
        assert.match(account.billing_information_attributes.token, /^blng_inf_[0-9a-f]{16}$/);
        assert.match(account.business_information_attributes.token, /^biz_inf_[0-9a-f]{16}$/);
      }
      const list = await api(app, 'GET', '/v2/managed_accounts', { token: msp.token });
      assert.deepEqual(list.body.managed_accounts[1], late.body, 'list items equal the single GET (C04), tokens stable');
      assert.deepEqual((await api(app, 'GET', `/v2/managed_accounts/${early.token}`, { token: msp.token })).body, list.body.managed_accounts[0]);
      const renamed = await api(app, 'PUT', `/v2/managed_accounts/${late.body.token}`, { token: msp.token, body: { name: 'Later' } });
      assert.deepEqual(renamed.body, { ...late.body, name: 'Later' });
    });

    test('updates round-trip, nested records keep their tokens, arrays replace, and off/on keeps everything', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      await setAccountInvoicing(db.store.db, msp.accountToken, true);
      const profile = (await api(app, 'POST', '/v2/billing_profiles', { token: msp.token, body: { nickname: 'Main' } })).body;
      const account = (await api(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: 'Acme', contact_email: uniqueEmail() } })).body;
      const path = `/v2/managed_accounts/${account.token}`;

      // SPEC §2.3.3's example request.
      const sent = {
        name: 'Acme Corporation',
        msp_billing_profile_token: profile.token,
        payment_terms_days: 30,
        include_managed_account_integrations: true,
        billing_information_attributes: BILLING,
        business_information_attributes: { metadata: { custom_fields: [{ name: 'PO Number', value: '4500012345' }] } },
      };
      const updated = await api(app, 'PUT', path, { token: msp.token, body: sent });
      assert.equal(updated.status, 200, updated.raw);
      const expected = {
        ...account,
        ...sent,
        billing_information_attributes: { token: account.billing_information_attributes.token, ...BILLING },
        business_information_attributes: { token: account.business_information_attributes.token, ...sent.business_information_attributes },
      };
      assert.deepEqual(updated.body, expected);
      assert.deepEqual((await api(app, 'GET', path, { token: msp.token })).body, expected);

      // Partial nested update; the record's own token (and Rails' id) may be sent; arrays replace.
      const partial = await api(app, 'PUT', path, {
        token: msp.token,
        body: {
          billing_information_attributes: { id: 7, token: account.billing_information_attributes.token, city: 'Chicago', billing_email: ['a@acme.example', 'b@acme.example'] },
          business_information_attributes: { id: 8, metadata: { custom_fields: [{ name: 'VAT', value: null }] } },
          payment_terms_days: 0,
          include_managed_account_integrations: false,
        },
      });
      assert.equal(partial.status, 200, partial.raw);
      const expected2 = {
        ...expected,
        payment_terms_days: 0,
        include_managed_account_integrations: false,
        billing_information_attributes: { ...expected.billing_information_attributes, city: 'Chicago', billing_email: ['a@acme.example', 'b@acme.example'] },
        business_information_attributes: { token: account.business_information_attributes.token, metadata: { custom_fields: [{ name: 'VAT', value: null }] } },
      };
      assert.deepEqual(partial.body, expected2);
      assert.equal((await api(app, 'GET', `/v2/billing_profiles/${profile.token}`, { token: msp.token })).body.managed_accounts_count, '1');

      // Off: omitted and refused; on again: all kept.
      await setAccountInvoicing(db.store.db, msp.accountToken, false);
      const off = (await api(app, 'GET', path, { token: msp.token })).body;
      assert.deepEqual(off, Object.fromEntries(Object.entries(expected2).filter(([k]) => !FIELDS.includes(k))));
      await setAccountInvoicing(db.store.db, msp.accountToken, true);
      assert.deepEqual((await api(app, 'GET', path, { token: msp.token })).body, expected2);

      // "" clears the profile (null would keep it, W3).
      assert.equal((await api(app, 'PUT', path, { token: msp.token, body: { msp_billing_profile_token: null } })).body.msp_billing_profile_token, profile.token);
      assert.equal((await api(app, 'PUT', path, { token: msp.token, body: { msp_billing_profile_token: '' } })).body.msp_billing_profile_token, null);
    });

    test('an unknown or another MSP\'s profile token gets the same 400 (A5); rejected PUTs change nothing', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const a = await seedMsp(db.store, 'MSP A');
      const b = await seedMsp(db.store, 'MSP B');
      for (const msp of [a, b]) await setAccountInvoicing(db.store.db, msp.accountToken, true);
      const foreign = (await api(app, 'POST', '/v2/billing_profiles', { token: a.token, body: { nickname: 'A profile' } })).body.token;
      const own = (await api(app, 'POST', '/v2/billing_profiles', { token: b.token, body: { nickname: 'B profile' } })).body.token;
      const account = (await api(app, 'POST', '/v2/managed_accounts', { token: b.token, body: { name: 'B child', contact_email: uniqueEmail() } })).body;
      const path = `/v2/managed_accounts/${account.token}`;
      await api(app, 'PUT', path, { token: b.token, body: { msp_billing_profile_token: own, billing_information_attributes: { city: 'Oslo' } } });
      const before = await everything(app, b.token, true);
      const beforeA = await everything(app, a.token, true);

      const withForeign = await api(app, 'PUT', path, { token: b.token, body: { name: 'Moved', msp_billing_profile_token: foreign } });
      const withUnknown = await api(app, 'PUT', path, { token: b.token, body: { name: 'Moved', msp_billing_profile_token: NEVER } });
      assert.equal(withForeign.status, 400);
      assert.deepEqual(withUnknown.body, { errors: [`msp_billing_profile_token ${NEVER} is not one of your billing profiles`] });
      assert.equal(withForeign.raw.replace(foreign, '<token>'), withUnknown.raw.replace(NEVER, '<token>'));
      const malformed = await api(app, 'PUT', path, { token: b.token, body: { msp_billing_profile_token: 'acct_0000000000000000' } });
      assert.deepEqual(malformed.body, { errors: ['msp_billing_profile_token acct_0000000000000000 is not one of your billing profiles'] });

      const rejected: Array<[unknown, RegExp]> = [
        [{ name: 'Moved', payment_terms_days: -1 }, /payment_terms_days must be greater than or equal to 0/],
        [{ name: 'Moved', payment_terms_days: 366 }, /payment_terms_days must be less than or equal to 365/],
        [{ name: 'Moved', payment_terms_days: 1.5 }, /payment_terms_days must be an integer/],
        [{ name: 'Moved', include_managed_account_integrations: 'yes' }, /include_managed_account_integrations must be a boolean/],
        [{ name: 'Moved', payment_terms_days: 20, billing_information_attributes: { city: 'Bergen', billing_email: ['nope'] } }, /billing_information_attributes\.billing_email\[0\] is not a valid email/],
        [{ name: 'Moved', billing_information_attributes: { token: 'blng_inf_0000000000000000', city: 'Bergen' } }, /billing_information_attributes\.token must be blng_inf_/],
        [{ name: 'Moved', business_information_attributes: { metadata: { custom_fields: [{ value: 'no name' }] } } }, /business_information_attributes\.metadata\.custom_fields\[0\]\.name is required/],
        [{ name: 'Moved', billing_information_attributes: { country_code: 'usa' } }, /country_code must be an ISO 3166-1 alpha-2 code/],
        [{ name: '', payment_terms_days: 20 }, /name can't be blank/],
      ];
      for (const [body, message] of rejected) {
        const res = await api(app, 'PUT', path, { token: b.token, body });
        assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.raw}`);
        assert.match(res.body.errors.join('\n'), message);
      }
      assert.deepEqual(await everything(app, b.token, true), before, 'rejected PUTs changed nothing');
      assert.deepEqual(await everything(app, a.token, true), beforeA, "the other MSP's data is untouched");
    });

    test('concurrent first reads make each account\'s records once, and all see the same tokens', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const tokens = [];
      for (const name of ['One', 'Two', 'Three']) tokens.push((await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name, contact_email: uniqueEmail() } })).body.token);
      await setAccountInvoicing(db.store.db, msp.accountToken, true);
      const reads = await Promise.all([
        ...Array.from({ length: 4 }, () => call(app, 'GET', '/v2/managed_accounts', { token: msp.token })),
        ...tokens.map((token) => call(app, 'GET', `/v2/managed_accounts/${token}`, { token: msp.token })),
      ]);
      for (const res of reads) assert.equal(res.status, 200, res.raw);
      const final = (await call(app, 'GET', '/v2/managed_accounts', { token: msp.token })).body.managed_accounts;
      for (const res of reads.slice(0, 4)) assert.deepEqual(res.body.managed_accounts, final);
      for (const [i, res] of reads.slice(4).entries()) assert.deepEqual(res.body, final[i]);
      assert.equal((await db.store.db.selectFrom('billing_informations').select('id').execute()).length, 3);
      assert.equal((await db.store.db.selectFrom('business_informations').select('id').execute()).length, 3);
    });

    test('deleting a managed account removes its invoicing records', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      await setAccountInvoicing(db.store.db, msp.accountToken, true);
      const account = (await api(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: 'Doomed', contact_email: uniqueEmail() } })).body;
      const count = async () => (await db.store.db.selectFrom('billing_informations').select('id').where('account_id', 'is not', null).execute()).length;
      assert.equal(await count(), 1);
      assert.equal((await api(app, 'DELETE', `/v2/managed_accounts/${account.token}`, { token: msp.token })).status, 204);
      assert.equal(await count(), 0);
    });
  });
}
