import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createAccount, createApiToken, setAccountInvoicing } from '../src/domain/accounts.ts';
import { call, DIALECTS, nonMspToken, seedMsp, testApp, uniqueEmail } from './helpers/app.ts';
import { conformingCall, contractMissing, contractOperation } from './helpers/contract.ts';

const PROFILE = /^blng_prfl_[0-9a-f]{16}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const NOT_MSP_BODY = '{"errors":["You do not have permission to access this resource."]}';
const NEVER = 'blng_prfl_0000000000000000';

const api = conformingCall;

const FULL = {
  nickname: 'Acme MSP (EU)',
  billing_information_attributes: {
    company_name: 'Acme Managed Services GmbH',
    country_code: 'DE',
    address_line_1: 'Hauptstraße 1',
    address_line_2: '3. OG',
    city: 'München',
    state: 'Bayern',
    postal_code: '80331',
    billing_email: ['billing@acme.example', 'ap+eu@acme.example.co.uk'],
  },
  business_information_attributes: { metadata: { custom_fields: [{ name: 'VAT', value: 'DE123456789' }, { name: 'PO Number', value: null }] } },
  banking_information_attributes: {
    bank_name: 'Sparkasse',
    beneficiary_name: 'Acme Managed Services GmbH',
    tax_id: 'DE-TAX-1',
    secure_data: { iban: 'DE89370400440532013000', swift_bic: 'COBADEFFXXX', account_number: '0532013000', routing_number: '37040044' },
  },
  invoice_adjustment_attributes: {
    adjustment_items: [
      { name: 'VAT', adjustment_type: 'charge', calculation_type: 'percentage', amount: 19 },
      { name: 'Loyalty', adjustment_type: 'discount', calculation_type: 'percentage', amount: 0.7 },
      { name: 'Setup fee', calculation_type: 'fixed', amount: 300 },
    ],
  },
};

/** What FULL reads back as, given the tokens the server chose. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are compared field by field
function fullView(body: any, managedAccounts = '0'): any {
  return {
    token: body.token,
    nickname: 'Acme MSP (EU)',
    created_at: body.created_at,
    updated_at: body.updated_at,
    billing_information_attributes: { token: body.billing_information_attributes.token, ...FULL.billing_information_attributes },
    business_information_attributes: { token: body.business_information_attributes.token, ...FULL.business_information_attributes },
    banking_information_attributes: { token: body.banking_information_attributes.token, ...FULL.banking_information_attributes },
    invoice_adjustment_attributes: {
      token: body.invoice_adjustment_attributes.token,
      adjustment_items: [
        { name: 'VAT', adjustment_type: 'charge', calculation_type: 'percentage', amount: '19.0' },
        { name: 'Loyalty', adjustment_type: 'discount', calculation_type: 'percentage', amount: '0.7' },
        { name: 'Setup fee', adjustment_type: 'charge', calculation_type: 'fixed', amount: '300.0' },
      ],
    },
    managed_accounts_count: managedAccounts,
  };
}

async function invoicingMsp(app: FastifyInstance, store: Parameters<typeof seedMsp>[0], name = 'MSP A') {
  const msp = await seedMsp(store, name);
  await setAccountInvoicing(store.db, msp.accountToken, true);
  return msp;
}

for (const dialect of DIALECTS) {
  describe(`billing profiles [${dialect.name}]`, { skip: dialect.skip }, () => {
    test('without MSP invoicing every route is a 403 with the non-MSP text; with it they work; off again, 403 again', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      const calls = [
        ['GET', '/v2/billing_profiles', undefined],
        ['POST', '/v2/billing_profiles', { nickname: 'X' }],
        ['POST', '/v2/billing_profiles', { nickname: '' }],
        ['GET', `/v2/billing_profiles/${NEVER}`, undefined],
        ['PUT', `/v2/billing_profiles/${NEVER}`, { nickname: 'Y' }],
        ['DELETE', `/v2/billing_profiles/${NEVER}`, undefined],
      ] as const;
      const plain = await nonMspToken(db.store);
      for (const [method, url, body] of calls) {
        for (const token of [msp.token, plain]) {
          const res = await call(app, method, url, { token, body });
          assert.equal(res.status, 403, `${method} ${url}: ${res.raw}`);
          assert.equal(res.raw, NOT_MSP_BODY);
        }
      }
      assert.equal((await db.store.db.selectFrom('billing_profiles').selectAll().execute()).length, 0);

      await setAccountInvoicing(db.store.db, msp.accountToken, true);
      const created = await api(app, 'POST', '/v2/billing_profiles', { token: msp.token, body: { nickname: 'X' } });
      assert.equal(created.status, 201, created.raw);
      assert.equal((await api(app, 'GET', '/v2/billing_profiles', { token: msp.token })).status, 200);
      const plainList = await call(app, 'GET', '/v2/billing_profiles', { token: plain });
      assert.equal(plainList.raw, NOT_MSP_BODY, 'a non-MSP stays refused');

      await setAccountInvoicing(db.store.db, msp.accountToken, false);
      const off = await call(app, 'GET', `/v2/billing_profiles/${created.body.token}`, { token: msp.token });
      assert.equal(off.status, 403);
      assert.equal(off.raw, NOT_MSP_BODY);
      await setAccountInvoicing(db.store.db, msp.accountToken, true);
      assert.deepEqual((await api(app, 'GET', `/v2/billing_profiles/${created.body.token}`, { token: msp.token })).body, created.body, 'kept while off');
    });

    test('create with every nested object returns exactly what was sent, with tokens; GET and the list agree', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await invoicingMsp(app, db.store);
      const res = await api(app, 'POST', '/v2/billing_profiles', { token: msp.token, body: FULL });
      assert.equal(res.status, 201, res.raw);
      assert.match(res.body.token, PROFILE);
      assert.match(res.body.created_at, ISO);
      assert.equal(res.body.updated_at, res.body.created_at);
      assert.match(res.body.billing_information_attributes.token, /^blng_inf_[0-9a-f]{16}$/);
      assert.match(res.body.business_information_attributes.token, /^biz_inf_[0-9a-f]{16}$/);
      assert.match(res.body.banking_information_attributes.token, /^bnk_inf_[0-9a-f]{16}$/);
      assert.match(res.body.invoice_adjustment_attributes.token, /^inv_adj_[0-9a-f]{16}$/);
      assert.deepEqual(res.body, fullView(res.body));

      const got = await api(app, 'GET', `/v2/billing_profiles/${res.body.token}`, { token: msp.token });
      assert.equal(got.status, 200);
      assert.deepEqual(got.body, res.body);
      const list = await api(app, 'GET', '/v2/billing_profiles', { token: msp.token });
      assert.deepEqual(list.body.billing_profiles, [res.body]);
      assert.deepEqual(list.body.links, {
        self: 'https://steward.test/v2/billing_profiles',
        first: 'https://steward.test/v2/billing_profiles?page=1',
        next: null,
        last: 'https://steward.test/v2/billing_profiles?page=1',
        prev: null,
      });
    });

    test('a nickname alone gets empty nested records with tokens, custom_fields [] and no banking key; null is absent (W3)', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await invoicingMsp(app, db.store);
      const res = await api(app, 'POST', '/v2/billing_profiles', {
        token: msp.token,
        body: { nickname: 'Bare', billing_information_attributes: null, banking_information_attributes: null, unknown_key: 1 },
      });
      assert.equal(res.status, 201, res.raw);
      assert.deepEqual(res.body, {
        token: res.body.token,
        nickname: 'Bare',
        created_at: res.body.created_at,
        updated_at: res.body.created_at,
        billing_information_attributes: {
          token: res.body.billing_information_attributes.token,
          company_name: null,
          country_code: null,
          address_line_1: null,
          address_line_2: null,
          city: null,
          state: null,
          postal_code: null,
          billing_email: [],
        },
        business_information_attributes: { token: res.body.business_information_attributes.token, metadata: { custom_fields: [] } },
        invoice_adjustment_attributes: { token: res.body.invoice_adjustment_attributes.token, adjustment_items: [] },
        managed_accounts_count: '0',
      });
      assert.equal('banking_information_attributes' in res.body, false);
    });

    test('PUT updates in place: tokens stay with or without token sent, absent keys keep, arrays replace', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await invoicingMsp(app, db.store);
      const created = (await api(app, 'POST', '/v2/billing_profiles', { token: msp.token, body: FULL })).body;
      const path = `/v2/billing_profiles/${created.token}`;
      const tokens = (b: typeof created) => [
        b.billing_information_attributes.token,
        b.business_information_attributes.token,
        b.banking_information_attributes.token,
        b.invoice_adjustment_attributes.token,
      ];

      const first = await api(app, 'PUT', path, {
        token: msp.token,
        body: {
          nickname: 'Acme MSP',
          billing_information_attributes: { city: 'Berlin', billing_email: ['new@acme.example'] },
          business_information_attributes: { metadata: { custom_fields: [{ name: 'Tax ID', value: '42' }] } },
          banking_information_attributes: { bank_name: 'Commerzbank', secure_data: { iban: 'DE02120300000000202051' } },
          invoice_adjustment_attributes: { adjustment_items: [{ name: 'Fee', adjustment_type: 'credit', calculation_type: 'fixed', amount: 12.5 }] },
        },
      });
      assert.equal(first.status, 200, first.raw);
      assert.deepEqual(tokens(first.body), tokens(created));
      const expected = fullView(created);
      expected.nickname = 'Acme MSP';
      expected.updated_at = first.body.updated_at;
      expected.billing_information_attributes = { ...expected.billing_information_attributes, city: 'Berlin', billing_email: ['new@acme.example'] };
      expected.business_information_attributes = { token: created.business_information_attributes.token, metadata: { custom_fields: [{ name: 'Tax ID', value: '42' }] } };
      expected.banking_information_attributes = {
        ...expected.banking_information_attributes,
        bank_name: 'Commerzbank',
        secure_data: { ...FULL.banking_information_attributes.secure_data, iban: 'DE02120300000000202051' },
      };
      expected.invoice_adjustment_attributes = {
        token: created.invoice_adjustment_attributes.token,
        adjustment_items: [{ name: 'Fee', adjustment_type: 'credit', calculation_type: 'fixed', amount: '12.5' }],
      };
      assert.deepEqual(first.body, expected);
      assert.match(first.body.updated_at, ISO);
      assert.equal(first.body.created_at, created.created_at);

      // Sending each record's own token is the same as leaving it out; [] clears arrays.
      const second = await api(app, 'PUT', path, {
        token: msp.token,
        body: {
          billing_information_attributes: { token: created.billing_information_attributes.token, billing_email: [] },
          business_information_attributes: { token: created.business_information_attributes.token, metadata: { custom_fields: [] } },
          banking_information_attributes: { token: created.banking_information_attributes.token },
          invoice_adjustment_attributes: { token: created.invoice_adjustment_attributes.token, adjustment_items: [] },
        },
      });
      assert.equal(second.status, 200, second.raw);
      assert.deepEqual(tokens(second.body), tokens(created));
      assert.deepEqual(second.body.billing_information_attributes.billing_email, []);
      assert.deepEqual(second.body.business_information_attributes.metadata.custom_fields, []);
      assert.deepEqual(second.body.invoice_adjustment_attributes.adjustment_items, []);
      assert.deepEqual(second.body.banking_information_attributes, expected.banking_information_attributes);
      assert.equal(second.body.billing_information_attributes.city, 'Berlin');

      // An empty body changes nothing but updated_at.
      const empty = await api(app, 'PUT', path, { token: msp.token, body: {} });
      assert.deepEqual({ ...empty.body, updated_at: null }, { ...second.body, updated_at: null });
      assert.deepEqual((await api(app, 'GET', path, { token: msp.token })).body, empty.body);
    });

    test('banking information is made by the first PUT that sends it, then keeps its token', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await invoicingMsp(app, db.store);
      const created = (await api(app, 'POST', '/v2/billing_profiles', { token: msp.token, body: { nickname: 'No bank yet' } })).body;
      const path = `/v2/billing_profiles/${created.token}`;
      const wrongToken = await api(app, 'PUT', path, { token: msp.token, body: { banking_information_attributes: { token: 'bnk_inf_0000000000000000', bank_name: 'X' } } });
      assert.equal(wrongToken.status, 400);
      assert.match(wrongToken.body.errors.join(), /banking_information_attributes\.token/);
      const made = await api(app, 'PUT', path, { token: msp.token, body: { banking_information_attributes: { tax_id: 'T-1' } } });
      assert.equal(made.status, 200, made.raw);
      assert.deepEqual(made.body.banking_information_attributes, { token: made.body.banking_information_attributes.token, bank_name: null, beneficiary_name: null, tax_id: 'T-1' });
      const secured = await api(app, 'PUT', path, { token: msp.token, body: { banking_information_attributes: { secure_data: { account_number: '12345678' } } } });
      assert.deepEqual(secured.body.banking_information_attributes, {
        token: made.body.banking_information_attributes.token,
        bank_name: null,
        beneficiary_name: null,
        tax_id: 'T-1',
        secure_data: { account_number: '12345678', routing_number: null, iban: null, swift_bic: null },
      });
    });

    test('amounts are exact decimal strings (W8)', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await invoicingMsp(app, db.store);
      const amounts: Array<[number, string]> = [[0.7, '0.7'], [300, '300.0'], [0, '0.0'], [0.1, '0.1'], [1e-7, '0.0000001'], [12345678.123456, '12345678.123456'], [2.675, '2.675']];
      const res = await api(app, 'POST', '/v2/billing_profiles', {
        token: msp.token,
        body: { nickname: 'Decimals', invoice_adjustment_attributes: { adjustment_items: amounts.map(([amount], i) => ({ name: `Item ${i}`, calculation_type: 'fixed', amount })) } },
      });
      assert.equal(res.status, 201, res.raw);
      assert.deepEqual(res.body.invoice_adjustment_attributes.adjustment_items.map((i: { amount: string }) => i.amount), amounts.map(([, text]) => text));
    });

    test('invalid input is a 400 naming the field and changes nothing', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await invoicingMsp(app, db.store);
      const created = (await api(app, 'POST', '/v2/billing_profiles', { token: msp.token, body: FULL })).body;
      const path = `/v2/billing_profiles/${created.token}`;
      const item = { name: 'Fee', calculation_type: 'fixed', amount: 1 };
      const cases: Array<[string, unknown, RegExp]> = [
        ['no nickname', { billing_information_attributes: { city: 'X' } }, /nickname is required/],
        ['null nickname', { nickname: null }, /nickname is required/],
        ['blank nickname', { nickname: '   ' }, /nickname can't be blank/],
        ['long nickname', { nickname: 'A'.repeat(256) }, /nickname is too long \(maximum is 255 characters\)/],
        ['numeric nickname', { nickname: 5 }, /nickname must be a string/],
        ['bad billing email', { nickname: 'X', billing_information_attributes: { billing_email: ['ok@example.com', 'not-an-email'] } }, /billing_information_attributes\.billing_email\[1\] is not a valid email/],
        ['lower-case country', { nickname: 'X', billing_information_attributes: { country_code: 'de' } }, /billing_information_attributes\.country_code must be an ISO 3166-1 alpha-2/],
        ['three-letter country', { nickname: 'X', billing_information_attributes: { country_code: 'DEU' } }, /country_code/],
        ['custom field without a name', { nickname: 'X', business_information_attributes: { metadata: { custom_fields: [{ value: 'v' }] } } }, /custom_fields\[0\]\.name is required/],
        ['bad adjustment_type', { nickname: 'X', invoice_adjustment_attributes: { adjustment_items: [{ ...item, adjustment_type: 'tax' }] } }, /adjustment_items\[0\]\.adjustment_type must be one of charge, credit, discount/],
        ['missing calculation_type', { nickname: 'X', invoice_adjustment_attributes: { adjustment_items: [{ name: 'Fee', amount: 1 }] } }, /adjustment_items\[0\]\.calculation_type is required/],
        ['bad calculation_type', { nickname: 'X', invoice_adjustment_attributes: { adjustment_items: [{ ...item, calculation_type: 'tiered' }] } }, /calculation_type must be one of fixed, percentage/],
        ['missing amount', { nickname: 'X', invoice_adjustment_attributes: { adjustment_items: [{ name: 'Fee', calculation_type: 'fixed' }] } }, /adjustment_items\[0\]\.amount is required/],
        ['string amount', { nickname: 'X', invoice_adjustment_attributes: { adjustment_items: [{ ...item, amount: '1.5' }] } }, /amount must be a number/],
        ['negative amount', { nickname: 'X', invoice_adjustment_attributes: { adjustment_items: [{ ...item, amount: -1 }] } }, /amount must be a number of at least 0/],
        ['percentage over 100', { nickname: 'X', invoice_adjustment_attributes: { adjustment_items: [{ ...item, calculation_type: 'percentage', amount: 100.5 }] } }, /amount is a percentage and must be at most 100/],
        ['item without a name', { nickname: 'X', invoice_adjustment_attributes: { adjustment_items: [{ calculation_type: 'fixed', amount: 1 }] } }, /adjustment_items\[0\]\.name is required/],
        ['a nested token on create', { nickname: 'X', billing_information_attributes: { token: created.billing_information_attributes.token } }, /billing_information_attributes\.token must be left out/],
        ['control characters', { nickname: 'X', billing_information_attributes: { city: 'a\u0000b' } }, /billing_information_attributes\.city must not contain the NUL character/],
        ['a list as an object', { nickname: 'X', billing_information_attributes: { billing_email: 'a@example.com' } }, /billing_email must be an array/],
      ];
      const before = await api(app, 'GET', '/v2/billing_profiles', { token: msp.token });
      for (const [what, body, message] of cases) {
        const res = await api(app, 'POST', '/v2/billing_profiles', { token: msp.token, body });
        assert.equal(res.status, 400, `${what}: ${res.raw}`);
        assert.match(res.body.errors.join('\n'), message, what);
      }
      const updates: Array<[string, unknown, RegExp]> = [
        ['blank nickname', { nickname: '', billing_information_attributes: { city: 'Changed' } }, /nickname can't be blank/],
        ['another record token', { billing_information_attributes: { token: 'blng_inf_0000000000000000', city: 'Changed' } }, /billing_information_attributes\.token must be blng_inf_/],
        ['bad email among good changes', { nickname: 'Changed', billing_information_attributes: { billing_email: ['@'] } }, /billing_email\[0\]/],
        ['bad adjustment', { nickname: 'Changed', invoice_adjustment_attributes: { adjustment_items: [{ name: 'x', calculation_type: 'fixed', amount: -5 }] } }, /amount/],
      ];
      for (const [what, body, message] of updates) {
        const res = await api(app, 'PUT', path, { token: msp.token, body });
        assert.equal(res.status, 400, `${what}: ${res.raw}`);
        assert.match(res.body.errors.join('\n'), message, what);
      }
      assert.deepEqual((await api(app, 'GET', '/v2/billing_profiles', { token: msp.token })).body, before.body, 'rejected requests changed nothing');
    });

    test('managed_accounts_count counts the accounts that name it; DELETE is refused while any does (M9), then 204 and 404', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await invoicingMsp(app, db.store);
      const profile = (await api(app, 'POST', '/v2/billing_profiles', { token: msp.token, body: { nickname: 'Main' } })).body;
      const other = (await api(app, 'POST', '/v2/billing_profiles', { token: msp.token, body: { nickname: 'Other' } })).body;
      const accounts: string[] = [];
      for (const name of ['One', 'Two']) {
        const made = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name, contact_email: uniqueEmail() } });
        accounts.push(made.body.token);
        const put = await call(app, 'PUT', `/v2/managed_accounts/${made.body.token}`, { token: msp.token, body: { msp_billing_profile_token: profile.token } });
        assert.equal(put.status, 200, put.raw);
      }
      const path = `/v2/billing_profiles/${profile.token}`;
      assert.equal((await api(app, 'GET', path, { token: msp.token })).body.managed_accounts_count, '2');
      const listed = (await api(app, 'GET', '/v2/billing_profiles', { token: msp.token })).body.billing_profiles;
      assert.deepEqual(listed.map((p: { managed_accounts_count: string }) => p.managed_accounts_count), ['2', '0']);

      const refused = await call(app, 'DELETE', path, { token: msp.token });
      assert.equal(refused.status, 400, refused.raw);
      assert.deepEqual(refused.body, {
        errors: [
          `billing profile ${profile.token} is still the msp_billing_profile_token of managed accounts ${accounts.join(', ')}; give them another billing profile (or "") first`,
        ],
      });
      assert.equal((await api(app, 'GET', path, { token: msp.token })).status, 200, 'still readable');

      await call(app, 'PUT', `/v2/managed_accounts/${accounts[0]}`, { token: msp.token, body: { msp_billing_profile_token: other.token } });
      assert.equal((await api(app, 'GET', path, { token: msp.token })).body.managed_accounts_count, '1');
      const stillOne = await call(app, 'DELETE', path, { token: msp.token });
      assert.equal(stillOne.status, 400);
      assert.match(stillOne.body.errors[0], new RegExp(`managed account ${accounts[1]};`));
      const cleared = await call(app, 'PUT', `/v2/managed_accounts/${accounts[1]}`, { token: msp.token, body: { msp_billing_profile_token: '' } });
      assert.equal(cleared.body.msp_billing_profile_token, null);
      assert.equal((await api(app, 'GET', path, { token: msp.token })).body.managed_accounts_count, '0');

      const deleted = await api(app, 'DELETE', path, { token: msp.token, body: {} });
      assert.equal(deleted.status, 204);
      assert.equal(deleted.raw, '');
      assert.equal((await api(app, 'GET', path, { token: msp.token })).status, 404);
      assert.equal((await api(app, 'DELETE', path, { token: msp.token })).status, 404);
      assert.equal((await api(app, 'PUT', path, { token: msp.token, body: { nickname: 'Back' } })).status, 404);
      for (const table of ['billing_informations', 'business_informations', 'invoice_adjustments'] as const) {
        const rows = await db.store.db.selectFrom(table).select('billing_profile_id').where('billing_profile_id', 'is not', null).execute();
        assert.equal(rows.length, 1, `${table}: only the other profile's record is left`);
      }
      // Deleting a managed account stops it counting.
      await call(app, 'DELETE', `/v2/managed_accounts/${accounts[0]}`, { token: msp.token });
      assert.equal((await api(app, 'GET', `/v2/billing_profiles/${other.token}`, { token: msp.token })).body.managed_accounts_count, '0');
    });

    test("another MSP's profile is a 404 identical to one that never existed, and lists are per MSP (A5)", async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const a = await invoicingMsp(app, db.store, 'MSP A');
      const b = await invoicingMsp(app, db.store, 'MSP B');
      const mine = (await api(app, 'POST', '/v2/billing_profiles', { token: a.token, body: FULL })).body;
      for (const method of ['GET', 'PUT', 'DELETE'] as const) {
        const body = method === 'PUT' ? { nickname: 'Stolen' } : undefined;
        const foreign = await call(app, method, `/v2/billing_profiles/${mine.token}`, { token: b.token, body });
        const never = await call(app, method, `/v2/billing_profiles/${NEVER}`, { token: b.token, body });
        const malformed = await call(app, method, '/v2/billing_profiles/not-a-token', { token: b.token, body });
        assert.equal(foreign.status, 404);
        assert.equal(foreign.raw, never.raw);
        assert.equal(malformed.raw, never.raw);
        assert.deepEqual(never.body, { errors: ['Billing profile not found'] });
      }
      assert.deepEqual((await api(app, 'GET', '/v2/billing_profiles', { token: b.token })).body.billing_profiles, []);
      assert.deepEqual((await api(app, 'GET', `/v2/billing_profiles/${mine.token}`, { token: a.token })).body, mine);
    });

    test('pagination: limit, next/prev, a page past the end (M7, M8)', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await invoicingMsp(app, db.store);
      const tokens = [];
      for (const nickname of ['P1', 'P2', 'P3']) tokens.push((await api(app, 'POST', '/v2/billing_profiles', { token: msp.token, body: { nickname } })).body.token);
      const first = await api(app, 'GET', '/v2/billing_profiles?limit=2', { token: msp.token });
      assert.deepEqual(first.body.billing_profiles.map((p: { token: string }) => p.token), tokens.slice(0, 2));
      assert.equal(first.body.links.next, 'https://steward.test/v2/billing_profiles?limit=2&page=2');
      const second = await api(app, 'GET', '/v2/billing_profiles?limit=2&page=2', { token: msp.token });
      assert.deepEqual(second.body.billing_profiles.map((p: { token: string }) => p.token), tokens.slice(2));
      assert.equal(second.body.links.next, null);
      assert.equal(second.body.links.prev, 'https://steward.test/v2/billing_profiles?limit=2&page=1');
      assert.deepEqual((await api(app, 'GET', '/v2/billing_profiles?limit=2&page=3', { token: msp.token })).body.billing_profiles, []);
      assert.equal((await call(app, 'GET', '/v2/billing_profiles?limit=abc', { token: msp.token })).status, 400);
    });

    test('banking secure data is encrypted at rest and comes back through the API unchanged', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await invoicingMsp(app, db.store);
      const secure = { account_number: '9876543210123', routing_number: '021000021', iban: 'GB33BUKB20201555555555', swift_bic: 'BUKBGB22XYZ' };
      const created = await api(app, 'POST', '/v2/billing_profiles', {
        token: msp.token,
        body: { nickname: 'Secret bank', banking_information_attributes: { bank_name: 'Barclays', secure_data: secure } },
      });
      assert.equal(created.status, 201, created.raw);
      assert.deepEqual(created.body.banking_information_attributes.secure_data, secure);
      assert.deepEqual((await api(app, 'GET', `/v2/billing_profiles/${created.body.token}`, { token: msp.token })).body.banking_information_attributes.secure_data, secure);

      const raw = await db.store.db.selectFrom('banking_informations').select(['token', 'secure_data', 'bank_name']).execute();
      assert.equal(raw.length, 1);
      assert.equal(raw[0]?.bank_name, 'Barclays');
      assert.match(String(raw[0]?.secure_data), /^v1:[A-Za-z0-9_-]+$/);
      for (const value of Object.values(secure)) assert.ok(!String(raw[0]?.secure_data).includes(value));
      if (dialect.name === 'sqlite') {
        // The database file and its write-ahead log, read as bytes: the plain bank name is there, the secure data is not.
        const bytes = Buffer.concat([db.url, `${db.url}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f)));
        assert.ok(bytes.includes(Buffer.from('Barclays')), 'the files hold the committed data');
        for (const value of Object.values(secure)) assert.equal(bytes.includes(Buffer.from(value)), false, `${value} is readable in the database files`);
      }
      // The ciphertext is bound to its record: copied to another profile's banking row, it does not open.
      const other = await api(app, 'POST', '/v2/billing_profiles', { token: msp.token, body: { nickname: 'Copy target', banking_information_attributes: { bank_name: 'X' } } });
      await db.store.db.updateTable('banking_informations').set({ secure_data: raw[0]?.secure_data ?? null }).where('token', '=', other.body.banking_information_attributes.token).execute();
      const copied = await call(app, 'GET', `/v2/billing_profiles/${other.body.token}`, { token: msp.token });
      assert.equal(copied.status, 500);
      assert.ok(!copied.raw.includes(secure.iban));
    });

    test('the served OpenAPI document has the contract\'s operationIds, success statuses and component names', { skip: contractMissing }, async (t) => {
      const { app } = await testApp(t, dialect.name);
      const served = (await call(app, 'GET', '/v2/oas_v3.json')).body;
      const ops = Object.entries(served.paths as Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>)
        .filter(([path]) => path.startsWith('/v2/billing_profiles'))
        .flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));
      assert.equal(ops.length, 5);
      for (const { path, method, op } of ops) {
        const theirs = contractOperation(method, path.replace('{billing_profile_token}', NEVER));
        assert.equal(op.operationId, theirs.operationId, `${method} ${path}`);
        const success = (r: Record<string, unknown>) => Object.keys(r).filter((s) => s.startsWith('2'));
        assert.deepEqual(success(op.responses), success(theirs.responses), `${method} ${path}`);
      }
      for (const name of ['BillingProfile', 'BillingProfiles', 'BillingInformation', 'BusinessInformation', 'BankingInformation', 'BankingInformationSecureData', 'InvoiceAdjustment', 'AdjustmentItem']) {
        assert.ok(served.components.schemas[name], `component ${name}`);
      }
    });

    if (dialect.name === 'postgres') {
      test('assigning a profile while it is being deleted: one wins cleanly, never a 500 or a dangling reference', async (t) => {
        const { app, db } = await testApp(t, dialect.name);
        const msp = await invoicingMsp(app, db.store);
        const account = (await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: 'Racer', contact_email: uniqueEmail() } })).body;
        for (let i = 0; i < 8; i++) {
          const profile = (await call(app, 'POST', '/v2/billing_profiles', { token: msp.token, body: { nickname: `Race ${i}` } })).body.token;
          const [put, del] = await Promise.all([
            call(app, 'PUT', `/v2/managed_accounts/${account.token}`, { token: msp.token, body: { msp_billing_profile_token: profile } }),
            call(app, 'DELETE', `/v2/billing_profiles/${profile}`, { token: msp.token }),
          ]);
          const outcome = `${put.status}/${del.status}`;
          assert.ok(outcome === '200/400' || outcome === '400/204', `PUT ${put.raw} / DELETE ${del.raw}`);
          const now = (await call(app, 'GET', `/v2/managed_accounts/${account.token}`, { token: msp.token })).body.msp_billing_profile_token;
          assert.equal(now, put.status === 200 ? profile : null);
          await call(app, 'PUT', `/v2/managed_accounts/${account.token}`, { token: msp.token, body: { msp_billing_profile_token: '' } });
        }
      });
    }

    test('a token of one of an MSP\'s own managed accounts is refused like any non-MSP', async (t) => {
      const { app, db } = await testApp(t, dialect.name);
      const msp = await invoicingMsp(app, db.store);
      const child = await call(app, 'POST', '/v2/managed_accounts', { token: msp.token, body: { name: 'Child', contact_email: uniqueEmail() } });
      const childToken = (await createApiToken(db.store.db, { accountToken: child.body.token, scopes: 'read,write' })).token;
      const res = await call(app, 'GET', '/v2/billing_profiles', { token: childToken });
      assert.equal(res.raw, NOT_MSP_BODY);
      // An account made with invoicing on from the start needs no switch.
      const direct = await createAccount(db.store.db, { name: 'Invoicing MSP', msp: true, invoicing: true });
      assert.equal(direct.msp_invoicing, true);
      const directToken = (await createApiToken(db.store.db, { accountToken: direct.token, scopes: 'read' })).token;
      assert.equal((await api(app, 'GET', '/v2/billing_profiles', { token: directToken })).status, 200);
    });
  });
}
