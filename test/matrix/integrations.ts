import type { Area, ParamSpec, World } from './types.ts';

const SUBSCRIPTION = '8c1f7a0e-1f2b-4c2b-9f3d-5a6b7c8d9e01';

/** A delegation of the tenant: integrations[0] is delegated to each of its managed accounts (see tenant() in security.test.ts). */
const delegation: Record<string, ParamSpec> = {
  managed_account_token: { of: (t, i) => t.managedAccounts[i] as string, neverExisted: 'acct_0000000000000000' },
  access_credential_token: { of: (t) => t.integrations[0] as string, neverExisted: 'accss_crdntl_0000000000000000' },
};

/** A valid update, one naming the owner's own workspace, and ones only the owner could be refused for: none may tell "foreign" from "absent". */
function workspaceProbes(w: World): unknown[] {
  return [
    { workspace_tokens: [] },
    { workspace_tokens: w.a.extra.workspaces },
    { workspace_tokens: ['wrkspc_0000000000000000'] },
    { workspace_tokens: null },
    {},
  ];
}

export const integrations: Area = {
  routes: [
    { method: 'GET', path: '/v2/integrations', scope: 'read', ok: 200, openToNonMsp: true },
    { method: 'POST', path: '/v2/integrations/custom_provider', scope: 'write', ok: 201, openToNonMsp: true, body: () => ({ name: 'Probe provider' }) },
    {
      method: 'POST',
      path: '/v2/integrations/gcp',
      scope: 'write',
      ok: 201,
      openToNonMsp: true,
      body: () => ({ billing_account_id: '011389-EF4C3E-3ED7AE', project_id: 'probe-project', dataset_name: 'billing_export' }),
    },
    {
      method: 'POST',
      path: '/v2/integrations/azure',
      scope: 'write',
      ok: 201,
      openToNonMsp: true,
      body: () => ({ tenant: 'probe.onmicrosoft.com', app_id: 'probe-app', password: 'probe-password' }),
    },
    { method: 'GET', path: '/v2/integrations/{integration_token}', scope: 'read', ok: 200, openToNonMsp: true },
    {
      method: 'PUT',
      path: '/v2/integrations/{integration_token}',
      scope: 'write',
      ok: 200,
      openToNonMsp: true,
      body: (w) => ({ workspace_tokens: w.a.extra.workspaces }),
      a5Bodies: workspaceProbes,
    },
    { method: 'DELETE', path: '/v2/integrations/{integration_token}', scope: 'write', ok: 204, openToNonMsp: true, a5Bodies: () => [undefined, {}] },
    {
      method: 'GET',
      path: '/v2/managed_accounts/{managed_account_token}/integrations/{access_credential_token}',
      scope: 'read',
      ok: 200,
      params: delegation,
    },
    {
      method: 'PUT',
      path: '/v2/managed_accounts/{managed_account_token}/integrations/{access_credential_token}',
      scope: 'write',
      ok: 200,
      params: delegation,
      body: () => ({ provider_account_identifiers: [] }),
      // A non-empty list is a 400 for the owner's aws delegation, yet another tenant must still get the 404.
      a5Bodies: () => [{ provider_account_identifiers: [] }, { provider_account_identifiers: [SUBSCRIPTION] }],
    },
  ],
  params: {
    integration_token: { of: (t, i) => t.integrations[i] as string, neverExisted: 'accss_crdntl_0000000000000000' },
  },
  async prepare(_app, store, tenant) {
    const rows = await store.db
      .selectFrom('workspaces as w')
      .innerJoin('accounts as a', 'a.id', 'w.account_id')
      .select('w.token')
      .where('a.token', '=', tenant.accountToken)
      .orderBy('w.id')
      .execute();
    tenant.extra.workspaces = rows.map((r) => r.token);
  },
  tables: ['integrations', 'integration_workspaces', 'managed_account_integrations', 'workspaces'],
};
