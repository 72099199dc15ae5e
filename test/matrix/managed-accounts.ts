import { uniqueEmail } from '../helpers/app.ts';
import { uniqueDomain, type Area, type World } from './types.ts';

function newAccountBody(): unknown {
  return { name: 'Probe account', contact_email: uniqueEmail('probe'), email_domain: uniqueDomain() };
}

function accountUpdateBody(): unknown {
  return { name: 'Hijacked', contact_email: uniqueEmail('hijack'), email_domain: uniqueDomain(), billing_rule_tokens: [], access_credential_tokens: [] };
}

/** A valid update, one naming the owner's own rules and integrations, and two invalid ones: none may tell "foreign" from "absent". */
function accountUpdateProbes(w: World): unknown[] {
  return [accountUpdateBody(), { billing_rule_tokens: w.a.rules, access_credential_tokens: w.a.integrations }, { name: '' }, { email_domain: 'co.uk' }];
}

export const managedAccounts: Area = {
  routes: [
    { method: 'GET', path: '/v2/managed_accounts', scope: 'read', ok: 200 },
    { method: 'POST', path: '/v2/managed_accounts', scope: 'write', ok: 201, body: newAccountBody },
    { method: 'GET', path: '/v2/managed_accounts/{managed_account_token}', scope: 'read', ok: 200 },
    { method: 'PUT', path: '/v2/managed_accounts/{managed_account_token}', scope: 'write', ok: 200, body: accountUpdateBody, a5Bodies: accountUpdateProbes },
    { method: 'DELETE', path: '/v2/managed_accounts/{managed_account_token}', scope: 'write', ok: 204, a5Bodies: () => [undefined, {}] },
  ],
  params: {
    managed_account_token: { of: (t, i) => t.managedAccounts[i] as string, neverExisted: 'acct_0000000000000000' },
  },
  tables: ['accounts', 'claimed_domains', 'integrations', 'billing_rules', 'managed_account_billing_rules', 'managed_account_integrations', 'workspaces'],
};
