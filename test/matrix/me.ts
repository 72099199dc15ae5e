import type { Area } from './types.ts';

/** SPEC §7: GET /v2/me is open to every account (it does not reveal MSP status) and shows only the caller's own. */
export const me: Area = {
  routes: [{ method: 'GET', path: '/v2/me', scope: 'read', ok: 200, openToNonMsp: true }],
  tables: ['workspaces'],
};
