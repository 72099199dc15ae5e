import type { Kysely } from 'kysely';
import type { Database, IntegrationRow, WorkspaceRow } from './schema.ts';
import { inTransaction, takesRowLocks } from './transaction.ts';

type Db = Kysely<Database>;


export interface NewIntegration {
  token: string;
  provider: string;
  account_identifier: string | null;
  status: string;
  created_at: string;
  /** JSON object of the non-secret creation fields. */
  settings?: string;
  /** SecretBox ciphertext, never plaintext. */
  secret?: string | null;
}

/** Inserts an integration feeding its owner's default (oldest) workspace (SPEC §5.1, §7). */
export async function insertIntegration(db: Db, ownerId: number, values: NewIntegration): Promise<IntegrationRow> {
  return inTransaction(db, async (trx) => {
    const row = await trx
      .insertInto('integrations')
      .values({ ...values, account_id: ownerId })
      .returningAll()
      .executeTakeFirstOrThrow();
    const workspace = await trx
      .selectFrom('workspaces')
      .select('id')
      .where('account_id', '=', ownerId)
      .orderBy('id')
      .limit(1)
      .executeTakeFirst();
    if (workspace) await trx.insertInto('integration_workspaces').values({ integration_id: row.id, workspace_id: workspace.id }).execute();
    return row;
  });
}

/** The owner's integrations among `tokens`, share-locked for the caller's transaction; other accounts' tokens are simply not found (A5). */
export async function findIntegrationsByTokens(db: Db, ownerId: number, tokens: string[]): Promise<IntegrationRow[]> {
  if (tokens.length === 0) return [];
  // FOR SHARE (Postgres): a concurrent DELETE of one of them waits for the delegation being written, or has
  // already removed the row, which then reads as unknown (400), never as a foreign-key failure (500).
  return db
    .selectFrom('integrations')
    .selectAll()
    .where('account_id', '=', ownerId)
    .where('token', 'in', tokens)
    .orderBy('id')
    .$if(takesRowLocks(db), (q) => q.forShare())
    .execute();
}

/** One integration of this owner. With `lock`, the row stays locked for the rest of the transaction (Postgres). */
export async function findIntegration(db: Db, ownerId: number, token: string, options: { lock?: boolean } = {}): Promise<IntegrationRow | undefined> {
  return db
    .selectFrom('integrations')
    .selectAll()
    .where('account_id', '=', ownerId)
    .where('token', '=', token)
    .$if(Boolean(options.lock) && takesRowLocks(db), (q) => q.forUpdate())
    .executeTakeFirst();
}

export interface IntegrationFilter {
  provider?: string;
  account_identifier?: string;
}

/** M7: oldest first; ids only grow, so pages walked during concurrent creates never repeat or skip. */
export async function listIntegrations(
  db: Db,
  ownerId: number,
  filter: IntegrationFilter,
  page: { offset: number; limit: number },
): Promise<{ rows: IntegrationRow[]; total: number }> {
  const base = db
    .selectFrom('integrations')
    .where('account_id', '=', ownerId)
    .$if(filter.provider !== undefined, (q) => q.where('provider', '=', filter.provider as string))
    .$if(filter.account_identifier !== undefined, (q) => q.where('account_identifier', '=', filter.account_identifier as string));
  const [rows, count] = await Promise.all([
    base.selectAll().orderBy('id').limit(page.limit).offset(page.offset).execute(),
    base.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

export async function touchIntegration(db: Db, ownerId: number, integrationId: number, lastUpdated: string): Promise<void> {
  await db.updateTable('integrations').set({ last_updated: lastUpdated }).where('account_id', '=', ownerId).where('id', '=', integrationId).execute();
}

/** Deletes an integration and, by cascade, its delegations and workspace links (M9). */
export async function deleteIntegration(db: Db, ownerId: number, token: string): Promise<boolean> {
  const result = await db.deleteFrom('integrations').where('account_id', '=', ownerId).where('token', '=', token).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** The owner's workspaces among `tokens`; other accounts' are not found (A5). */
export async function findWorkspacesByTokens(db: Db, ownerId: number, tokens: string[]): Promise<WorkspaceRow[]> {
  if (tokens.length === 0) return [];
  return db.selectFrom('workspaces').selectAll().where('account_id', '=', ownerId).where('token', 'in', tokens).execute();
}

export async function replaceIntegrationWorkspaces(db: Db, integrationId: number, workspaceIds: number[]): Promise<void> {
  await db.deleteFrom('integration_workspaces').where('integration_id', '=', integrationId).execute();
  if (workspaceIds.length === 0) return;
  await db
    .insertInto('integration_workspaces')
    .values(workspaceIds.map((workspace_id) => ({ integration_id: integrationId, workspace_id })))
    .execute();
}

/** Workspaces each integration feeds, oldest workspace first. */
export async function loadWorkspaceTokens(db: Db, integrationIds: number[]): Promise<Map<number, string[]>> {
  const byIntegration = new Map<number, string[]>(integrationIds.map((id) => [id, []]));
  if (integrationIds.length === 0) return byIntegration;
  const rows = await db
    .selectFrom('integration_workspaces as iw')
    .innerJoin('workspaces as w', 'w.id', 'iw.workspace_id')
    .select(['iw.integration_id', 'w.token'])
    .where('iw.integration_id', 'in', integrationIds)
    .orderBy('iw.integration_id')
    .orderBy('w.id')
    .execute();
  for (const row of rows) byIntegration.get(row.integration_id)?.push(row.token);
  return byIntegration;
}

/** Managed accounts each integration is delegated to, for the CLI's and API's Integration shape. */
export async function loadDelegateTokens(db: Db, integrationIds: number[]): Promise<Map<number, string[]>> {
  const byIntegration = new Map<number, string[]>(integrationIds.map((id) => [id, []]));
  if (integrationIds.length === 0) return byIntegration;
  const rows = await db
    .selectFrom('managed_account_integrations as d')
    .innerJoin('accounts as a', 'a.id', 'd.account_id')
    .select(['d.integration_id', 'a.token'])
    .where('d.integration_id', 'in', integrationIds)
    .orderBy('d.id')
    .execute();
  for (const row of rows) byIntegration.get(row.integration_id)?.push(row.token);
  return byIntegration;
}

export interface DelegationRow {
  id: number;
  integration_token: string;
  provider: string;
  /** JSON array of strings. */
  provider_account_identifiers: string;
}

/**
 * The delegation of this parent's integration `integrationToken` to this parent's managed account `accountToken`,
 * if there is one. Anything else (another parent's account or integration, no delegation) is not found (A5).
 */
export async function findDelegation(
  db: Db,
  parentId: number,
  accountToken: string,
  integrationToken: string,
  options: { lock?: boolean } = {},
): Promise<DelegationRow | undefined> {
  return db
    .selectFrom('managed_account_integrations as d')
    .innerJoin('accounts as a', 'a.id', 'd.account_id')
    .innerJoin('integrations as i', 'i.id', 'd.integration_id')
    .select(['d.id', 'i.token as integration_token', 'i.provider', 'd.provider_account_identifiers'])
    .where('a.parent_id', '=', parentId)
    .where('a.token', '=', accountToken)
    .where('i.account_id', '=', parentId)
    .where('i.token', '=', integrationToken)
    .$if(Boolean(options.lock) && takesRowLocks(db), (q) => q.forUpdate('d'))
    .executeTakeFirst();
}

export async function updateDelegationScope(db: Db, delegationId: number, identifiers: string[]): Promise<void> {
  await db
    .updateTable('managed_account_integrations')
    .set({ provider_account_identifiers: JSON.stringify(identifiers) })
    .where('id', '=', delegationId)
    .execute();
}
