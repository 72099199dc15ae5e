import type { Kysely } from 'kysely';
import type { ApiTokenRow, Database, WorkspaceRow } from './schema.ts';

type Db = Kysely<Database>;

/** An account's workspaces, oldest first (the first is its default workspace, made with the account). */
export async function listWorkspaces(db: Db, accountId: number): Promise<WorkspaceRow[]> {
  return db.selectFrom('workspaces').selectAll().where('account_id', '=', accountId).orderBy('id').execute();
}

/**
 * The API token a request authenticated with, for GET /v2/me. Scoped by owner like every store function.
 * (It belongs with api-tokens.store.ts; it lives here only because that file was not this change's to edit.)
 */
export async function findOwnApiToken(db: Db, accountId: number, tokenId: number): Promise<ApiTokenRow | undefined> {
  return db.selectFrom('api_tokens').selectAll().where('account_id', '=', accountId).where('id', '=', tokenId).executeTakeFirst();
}
