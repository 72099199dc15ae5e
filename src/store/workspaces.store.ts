import type { Kysely } from 'kysely';
import type { Database, WorkspaceRow } from './schema.ts';

type Db = Kysely<Database>;

/** An account's workspaces, oldest first (the first is its default workspace, made with the account). */
export async function listWorkspaces(db: Db, accountId: number): Promise<WorkspaceRow[]> {
  return db.selectFrom('workspaces').selectAll().where('account_id', '=', accountId).orderBy('id').execute();
}
