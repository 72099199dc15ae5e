import type { Kysely } from 'kysely';
import type { Database, IntegrationRow } from './schema.ts';

type Db = Kysely<Database>;

export async function insertIntegration(
  db: Db,
  ownerId: number,
  values: { token: string; provider: string; account_identifier: string | null; status: string; created_at: string },
): Promise<IntegrationRow> {
  return db
    .insertInto('integrations')
    .values({ ...values, account_id: ownerId })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** The owner's integrations among `tokens`; other accounts' tokens are simply not found (A5). */
export async function findIntegrationsByTokens(db: Db, ownerId: number, tokens: string[]): Promise<IntegrationRow[]> {
  if (tokens.length === 0) return [];
  return db.selectFrom('integrations').selectAll().where('account_id', '=', ownerId).where('token', 'in', tokens).execute();
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
