import assert from 'node:assert/strict';
import { setAccountInvoicing } from '../../src/domain/accounts.ts';
import { call } from '../helpers/app.ts';
import type { Area } from './types.ts';

function newProfileBody(): unknown {
  return {
    nickname: 'Probe profile',
    billing_information_attributes: { company_name: 'Probe Ltd', billing_email: ['probe@example.com'] },
    banking_information_attributes: { bank_name: 'Probe Bank', secure_data: { iban: 'GB33BUKB20201555555555' } },
    invoice_adjustment_attributes: { adjustment_items: [{ name: 'Fee', calculation_type: 'fixed', amount: 1 }] },
  };
}

function profileUpdateBody(): unknown {
  return { nickname: 'Hijacked', billing_information_attributes: { city: 'Elsewhere' }, banking_information_attributes: { secure_data: { iban: 'XX00' } } };
}

export const billingProfiles: Area = {
  routes: [
    { method: 'GET', path: '/v2/billing_profiles', scope: 'read', ok: 200 },
    { method: 'POST', path: '/v2/billing_profiles', scope: 'write', ok: 201, body: newProfileBody },
    { method: 'GET', path: '/v2/billing_profiles/{billing_profile_token}', scope: 'read', ok: 200 },
    {
      method: 'PUT',
      path: '/v2/billing_profiles/{billing_profile_token}',
      scope: 'write',
      ok: 200,
      body: profileUpdateBody,
      // A valid change, one naming a record token, and one the domain would refuse: none may tell "foreign" from "absent".
      a5Bodies: () => [profileUpdateBody(), { billing_information_attributes: { token: 'blng_inf_0000000000000000' } }, { nickname: '' }],
    },
    { method: 'DELETE', path: '/v2/billing_profiles/{billing_profile_token}', scope: 'write', ok: 204, a5Bodies: () => [undefined, {}] },
  ],
  params: {
    billing_profile_token: { of: (t, i) => t.extra.billing_profiles?.[i] as string, neverExisted: 'blng_prfl_0000000000000000' },
  },
  /** MSP invoicing on, and two profiles no managed account names (so the control DELETE succeeds). */
  prepare: async (app, store, tenant) => {
    await setAccountInvoicing(store.db, tenant.accountToken, true);
    const profiles: string[] = [];
    for (const nickname of ['Profile 0', 'Profile 1']) {
      const res = await call(app, 'POST', '/v2/billing_profiles', { token: tenant.token, body: { ...(newProfileBody() as object), nickname } });
      assert.equal(res.status, 201, res.raw);
      profiles.push(res.body.token);
    }
    tenant.extra.billing_profiles = profiles;
  },
  tables: ['billing_profiles', 'billing_informations', 'business_informations', 'banking_informations', 'invoice_adjustments'],
};
