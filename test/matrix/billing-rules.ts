import type { Area, World } from './types.ts';

/**
 * A valid update, bodies the owner would be refused for (blank title, a type change, a misordering stage change is
 * impossible for an adjustment, so its SQL is simply ignored), one turning apply_to_all on (which would write to
 * every managed account), and an empty one: none may tell "foreign" from "absent".
 */
function ruleUpdateProbes(w: World): unknown[] {
  void w;
  return [
    { title: 'Hijacked', percentage: 50, apply_to_all: false },
    { title: '' },
    { type: 'custom', sql_query: 'UPDATE aws SET x = 1' },
    { percentage: -1 },
    { end_date: '2000-01-01', start_date: '2001-01-01' },
    { apply_to_all: true },
    {},
  ];
}

export const billingRules: Area = {
  routes: [
    { method: 'GET', path: '/v2/billing_rules', scope: 'read', ok: 200 },
    { method: 'POST', path: '/v2/billing_rules', scope: 'write', ok: 201, body: () => ({ title: 'Probe rule', type: 'exclusion', charge_type: 'RIFee' }) },
    { method: 'GET', path: '/v2/billing_rules/{billing_rule_token}', scope: 'read', ok: 200 },
    {
      method: 'PUT',
      path: '/v2/billing_rules/{billing_rule_token}',
      scope: 'write',
      ok: 200,
      body: () => ({ title: 'Renamed', percentage: 80, apply_to_all: false }),
      a5Bodies: ruleUpdateProbes,
    },
    { method: 'DELETE', path: '/v2/billing_rules/{billing_rule_token}', scope: 'write', ok: 204, a5Bodies: () => [undefined, {}] },
  ],
  params: {
    billing_rule_token: { of: (t, i) => t.rules[i] as string, neverExisted: 'bllng_rule_0000000000000000' },
  },
  tables: ['billing_rules', 'managed_account_billing_rules', 'accounts'],
};
