import type { Kysely } from 'kysely';
import { listApiTokens as listTokenRows } from '../store/api-tokens.store.ts';
import type { Database } from '../store/schema.ts';
import { requireAccount } from './accounts.ts';
import { SCOPES, type Scope } from './auth.ts';

/** A token as `steward tokens list` shows it: never the secret, nor its hash. */
export interface ApiTokenView {
  id: number;
  description: string | null;
  scopes: Scope[];
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
  /** The client_id of the OAuth client the token was issued to; null for CLI-made tokens. */
  oauth_client_id: string | null;
}

/** Every token of an account, oldest first, revoked and expired ones included. */
export async function listApiTokens(db: Kysely<Database>, accountToken: string): Promise<ApiTokenView[]> {
  const account = await requireAccount(db, accountToken);
  return (await listTokenRows(db, account.id)).map((row) => {
    const granted = new Set(row.scopes.split(','));
    return {
      id: row.id,
      description: row.description,
      scopes: SCOPES.filter((s) => granted.has(s)),
      created_at: row.created_at,
      last_used_at: row.last_used_at,
      expires_at: row.expires_at,
      // A token issued while its client was being revoked is dead too (auth refuses it): show it revoked with it.
      revoked_at: row.revoked_at ?? row.client_revoked_at,
      oauth_client_id: row.client_id,
    };
  });
}
