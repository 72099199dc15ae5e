import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import { findOwnApiToken } from '../store/api-tokens.store.ts';
import { listWorkspaces } from '../store/workspaces.store.ts';
import { SCOPES, type Principal } from './auth.ts';
import { errors } from './errors.ts';

type Db = Kysely<Database>;

/** SPEC §7 `Workspace`. */
export interface WorkspaceView {
  token: string;
  name: string;
  created_at: string;
  enable_currency_conversion: boolean;
  currency: string;
  exchange_rate_date: string;
}

/** SPEC §7 `Me`: the calling account's workspaces and the bearer token the request used. */
export interface MeView {
  default_workspace_token: string | null;
  default_dashboard_token: null;
  workspaces: WorkspaceView[];
  bearer_token: { description: string; created_at: string; scope: string[] };
  is_account_owner: boolean;
}

export async function getMe(db: Db, principal: Pick<Principal, 'accountId' | 'tokenId'>): Promise<MeView> {
  const [workspaces, token] = await Promise.all([
    listWorkspaces(db, principal.accountId),
    findOwnApiToken(db, principal.accountId, principal.tokenId),
  ]);
  // Authentication found this token a moment ago; only a concurrent account deletion can remove it.
  if (!token) throw errors.invalidToken();
  const granted = new Set(token.scopes.split(','));
  return {
    default_workspace_token: workspaces[0]?.token ?? null,
    // Steward has no dashboards.
    default_dashboard_token: null,
    workspaces: workspaces.map((w) => ({
      token: w.token,
      name: w.name,
      created_at: w.created_at,
      enable_currency_conversion: w.enable_currency_conversion === 1,
      currency: w.currency,
      exchange_rate_date: w.exchange_rate_date,
    })),
    // The contract requires a string description; a token made without one reports "".
    bearer_token: { description: token.description ?? '', created_at: token.created_at, scope: SCOPES.filter((s) => granted.has(s)) },
    // Tokens belong to the account itself (no users or teams yet), so every caller acts as its owner.
    is_account_owner: true,
  };
}
