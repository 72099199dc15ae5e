import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { APIV2Client, VantageAPIError } from '@vantage-sh/vantage-client';
import { setAccountInvoicing } from '../src/domain/accounts.ts';
import { DIALECTS, listeningApp, seedMsp, uniqueEmail } from './helpers/app.ts';
import { contractMissing, contractViolations } from './helpers/contract.ts';

/** Vantage's official TypeScript client: billingProfiles and the MSP invoicing fields of managedAccounts.update. */
for (const dialect of DIALECTS) {
  describe(`@vantage-sh/vantage-client billing profiles [${dialect.name}]`, { skip: dialect.skip }, () => {
    test('billingProfiles.create/list/get/update/delete and managedAccounts.update with invoicing fields round-trip', async (t) => {
      const { db, baseUrl } = await listeningApp(t, dialect.name);
      const msp = await seedMsp(db.store);
      await setAccountInvoicing(db.store.db, msp.accountToken, true);
      const client = new APIV2Client(msp.token, false, baseUrl);
      const conforms = (method: string, path: string, status: number, body: unknown) => {
        if (!contractMissing) assert.deepEqual(contractViolations(method, path, status, body), [], `${method} ${path}`);
      };

      const sent = {
        nickname: 'Acme MSP',
        billing_information_attributes: {
          company_name: 'Acme MSP Inc.',
          country_code: 'US',
          address_line_1: '1 Main St',
          address_line_2: 'Floor 2',
          city: 'Springfield',
          state: 'IL',
          postal_code: '62701',
          billing_email: ['billing@acme.example'],
        },
        business_information_attributes: { metadata: { custom_fields: [{ name: 'EIN', value: '12-3456789' }] } },
        banking_information_attributes: {
          bank_name: 'First Bank',
          beneficiary_name: 'Acme MSP Inc.',
          tax_id: '12-3456789',
          secure_data: { account_number: '000123456789', routing_number: '110000000', iban: 'US00TEST', swift_bic: 'FBNKUS33' },
        },
        invoice_adjustment_attributes: {
          adjustment_items: [
            { name: 'Sales tax', adjustment_type: 'charge' as const, calculation_type: 'percentage' as const, amount: 6.25 },
            { name: 'Partner credit', adjustment_type: 'credit' as const, calculation_type: 'fixed' as const, amount: 100 },
          ],
        },
      };
      const created = await client.billingProfiles.create(sent);
      conforms('POST', '/v2/billing_profiles', 201, created);
      assert.match(created.token, /^blng_prfl_[0-9a-f]{16}$/);
      assert.deepEqual(created, {
        token: created.token,
        nickname: sent.nickname,
        created_at: created.created_at,
        updated_at: created.updated_at,
        billing_information_attributes: { token: created.billing_information_attributes.token, ...sent.billing_information_attributes },
        business_information_attributes: { token: created.business_information_attributes.token, ...sent.business_information_attributes },
        banking_information_attributes: { token: created.banking_information_attributes?.token, ...sent.banking_information_attributes },
        invoice_adjustment_attributes: {
          token: created.invoice_adjustment_attributes.token,
          adjustment_items: [
            { name: 'Sales tax', adjustment_type: 'charge', calculation_type: 'percentage', amount: '6.25' },
            { name: 'Partner credit', adjustment_type: 'credit', calculation_type: 'fixed', amount: '100.0' },
          ],
        },
        managed_accounts_count: '0',
      });

      const listed = await client.billingProfiles.list({ page: 1, limit: 10 });
      conforms('GET', '/v2/billing_profiles', 200, listed);
      assert.deepEqual(listed.billing_profiles, [created]);
      assert.equal(listed.links?.next, null);

      const got = await client.billingProfiles.get(created.token);
      conforms('GET', `/v2/billing_profiles/${created.token}`, 200, got);
      assert.deepEqual(got, created);

      // What Terraform sends: every nested object, without tokens.
      const update = {
        nickname: 'Acme MSP (US)',
        billing_information_attributes: { ...sent.billing_information_attributes, city: 'Chicago' },
        invoice_adjustment_attributes: { adjustment_items: [{ name: 'Sales tax', calculation_type: 'percentage' as const, amount: 7 }] },
      };
      const updated = await client.billingProfiles.update(created.token, update);
      conforms('PUT', `/v2/billing_profiles/${created.token}`, 200, updated);
      assert.deepEqual(updated, {
        ...created,
        nickname: 'Acme MSP (US)',
        updated_at: updated.updated_at,
        billing_information_attributes: { ...created.billing_information_attributes, city: 'Chicago' },
        invoice_adjustment_attributes: {
          token: created.invoice_adjustment_attributes.token,
          adjustment_items: [{ name: 'Sales tax', adjustment_type: 'charge', calculation_type: 'percentage', amount: '7.0' }],
        },
      });

      // A managed account billed through this profile.
      const account = await client.managedAccounts.create({ name: 'Globex', contact_email: uniqueEmail('globex') });
      conforms('POST', '/v2/managed_accounts', 201, account);
      const invoicing = {
        msp_billing_profile_token: created.token,
        payment_terms_days: 45,
        include_managed_account_integrations: true,
        billing_information_attributes: { company_name: 'Globex Corp', country_code: 'GB', billing_email: ['ap@globex.example'] },
        business_information_attributes: { metadata: { custom_fields: [{ name: 'PO Number', value: 'PO-1' }] } },
      };
      const billed = await client.managedAccounts.update(account.token, invoicing);
      conforms('PUT', `/v2/managed_accounts/${account.token}`, 200, billed);
      assert.deepEqual(billed, {
        ...account,
        ...invoicing,
        billing_information_attributes: { ...account.billing_information_attributes, ...invoicing.billing_information_attributes },
        business_information_attributes: { token: account.business_information_attributes?.token, ...invoicing.business_information_attributes },
      });
      assert.deepEqual(await client.managedAccounts.get(account.token), billed);
      assert.equal((await client.billingProfiles.get(created.token)).managed_accounts_count, '1');

      // Refused while named (M9), then allowed once the account moves off it.
      await assert.rejects(client.billingProfiles.delete(created.token), (e: unknown) => e instanceof VantageAPIError && e.status === 400);
      await client.managedAccounts.update(account.token, { msp_billing_profile_token: '' });
      await client.billingProfiles.delete(created.token);
      await assert.rejects(client.billingProfiles.get(created.token), (e: unknown) => e instanceof VantageAPIError && e.status === 404);
    });
  });
}
