import assert from 'node:assert/strict';
import { call, uniqueEmail } from '../helpers/app.ts';
import { uniqueDomain, type Area, type ParamSpec } from './types.ts';

const METADATA = 'https://idp.example.com/saml/metadata.xml';
const NEVER = 'acct_0000000000000000';

/**
 * SPEC §2.3 rows 6–8. `prepare` gives every managed account of a tenant an SSO connection (PUT and DELETE target
 * those), and gives a tenant with at least two managed accounts (the one the control test calls with i = 0 and 1)
 * two more accounts with an email_domain and no connection, which POST targets. Those join `managedAccounts`, so the
 * tenant's list stays exactly its managed accounts; the other tenant keeps its single account (its paging is checked).
 */
const withoutConnection: ParamSpec = { of: (t, i) => t.extra.sso_free_accounts?.[i] as string, neverExisted: NEVER };
const withConnection: ParamSpec = { of: (t, i) => t.extra.sso_accounts?.[i] as string, neverExisted: NEVER };

const path = '/v2/managed_accounts/{managed_account_token}/sso_connection';

export const ssoConnections: Area = {
  routes: [
    {
      method: 'POST',
      path,
      scope: 'write',
      ok: 201,
      params: { managed_account_token: withoutConnection },
      body: () => ({ type: 'saml', saml_metadata_url: METADATA, additional_domains: [uniqueDomain('sso')] }),
      a5Bodies: () => [
        { type: 'saml', saml_metadata_url: METADATA, additional_domains: [uniqueDomain('sso')] },
        { type: 'saml' },
        { type: 'saml', saml_metadata_url: 'http://idp.example.com/metadata.xml' },
        { type: 'saml', saml_metadata_url: METADATA, additional_domains: ['co.uk'] },
      ],
    },
    {
      method: 'PUT',
      path,
      scope: 'write',
      ok: 200,
      params: { managed_account_token: withConnection },
      body: () => ({ saml_metadata_url: 'https://login.example.com/metadata', additional_domains: [uniqueDomain('sso')] }),
      a5Bodies: () => [
        { saml_metadata_url: 'https://login.example.com/metadata', additional_domains: [uniqueDomain('sso')] },
        {},
        { additional_domains: [] },
        { additional_domains: null },
        { saml_metadata_url: 'not a url' },
      ],
    },
    { method: 'DELETE', path, scope: 'write', ok: 204, params: { managed_account_token: withConnection }, a5Bodies: () => [undefined, {}] },
  ],
  async prepare(app, _store, t) {
    const connected: string[] = [];
    for (const account of t.managedAccounts) {
      const res = await call(app, 'POST', `/v2/managed_accounts/${account}/sso_connection`, {
        token: t.token,
        body: { type: 'saml', saml_metadata_url: METADATA, additional_domains: [uniqueDomain('sso')] },
      });
      assert.equal(res.status, 201, res.raw);
      connected.push(account);
    }
    const free: string[] = [];
    if (t.managedAccounts.length >= 2) {
      for (let i = 0; i < 2; i++) {
        const res = await call(app, 'POST', '/v2/managed_accounts', {
          token: t.token,
          body: { name: `SSO candidate ${i}`, contact_email: uniqueEmail('sso'), email_domain: uniqueDomain('sso-free') },
        });
        assert.equal(res.status, 201, res.raw);
        free.push(res.body.token);
      }
    }
    t.managedAccounts.push(...free);
    t.extra.sso_accounts = connected;
    t.extra.sso_free_accounts = free;
  },
  tables: ['accounts', 'claimed_domains', 'sso_connections'],
};
