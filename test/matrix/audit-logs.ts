import type { Area } from './types.ts';

/**
 * SPEC §8: every account reads its own audit log (non-MSPs change integrations too), and nothing else's. Listing
 * audit_logs in `tables` also makes every refused request in the matrix prove it wrote no audit record.
 */
export const auditLogs: Area = {
  routes: [
    { method: 'GET', path: '/v2/audit_logs', scope: 'read', ok: 200, openToNonMsp: true },
    { method: 'GET', path: '/v2/audit_logs/{audit_log_token}', scope: 'read', ok: 200, openToNonMsp: true },
  ],
  params: {
    audit_log_token: { of: (t, i) => t.extra.audit_logs?.[i] as string, neverExisted: 'adt_lg_0000000000000000' },
  },
  /** Runs after the other areas' prepare (it is listed last), so the tenant's records of all of that exist. */
  async prepare(_app, store, tenant) {
    const rows = await store.db
      .selectFrom('audit_logs as l')
      .innerJoin('accounts as a', 'a.id', 'l.account_id')
      .select('l.token')
      .where('a.token', '=', tenant.accountToken)
      .orderBy('l.id')
      .execute();
    tenant.extra.audit_logs = rows.map((r) => r.token);
  },
  tables: ['audit_logs'],
};
