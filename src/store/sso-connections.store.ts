import type { Kysely } from 'kysely';
import type { Database, SsoConnectionRow } from './schema.ts';

type Db = Kysely<Database>;

/**
 * SSO connections (SPEC §3), one per managed account, and the account's SSO claims in claimed_domains. Every
 * function takes the managed account's id first; the caller has already found that account under its parent.
 */

export async function findSsoConnection(db: Db, accountId: number): Promise<SsoConnectionRow | undefined> {
  return db.selectFrom('sso_connections').selectAll().where('account_id', '=', accountId).executeTakeFirst();
}

export async function insertSsoConnection(
  db: Db,
  accountId: number,
  values: { type: string; saml_metadata_url: string; additional_domains: string[]; at: string },
): Promise<void> {
  await db
    .insertInto('sso_connections')
    .values({
      account_id: accountId,
      type: values.type,
      saml_metadata_url: values.saml_metadata_url,
      additional_domains: JSON.stringify(values.additional_domains),
      created_at: values.at,
      updated_at: values.at,
    })
    .execute();
}

export async function updateSsoConnection(
  db: Db,
  accountId: number,
  patch: { saml_metadata_url?: string; additional_domains?: string[]; at: string },
): Promise<void> {
  await db
    .updateTable('sso_connections')
    .set({
      updated_at: patch.at,
      ...(patch.saml_metadata_url !== undefined ? { saml_metadata_url: patch.saml_metadata_url } : {}),
      ...(patch.additional_domains !== undefined ? { additional_domains: JSON.stringify(patch.additional_domains) } : {}),
    })
    .where('account_id', '=', accountId)
    .execute();
}

export async function deleteSsoConnection(db: Db, accountId: number): Promise<void> {
  await db.deleteFrom('sso_connections').where('account_id', '=', accountId).execute();
}

/** The domain keys this account claims through SSO. */
export async function listSsoClaims(db: Db, accountId: number): Promise<string[]> {
  const rows = await db
    .selectFrom('claimed_domains')
    .select('domain_key')
    .where('account_id', '=', accountId)
    .where('source', '=', 'sso')
    .execute();
  return rows.map((r) => r.domain_key);
}

/** Which of these keys some other account holds (as its email_domain or an SSO domain). */
export async function findKeysClaimedByOthers(db: Db, accountId: number, keys: string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const rows = await db
    .selectFrom('claimed_domains')
    .select('domain_key')
    .where('domain_key', 'in', keys)
    .where('account_id', '<>', accountId)
    .execute();
  return new Set(rows.map((r) => r.domain_key));
}

export async function claimSsoDomain(db: Db, accountId: number, key: string): Promise<void> {
  await db.insertInto('claimed_domains').values({ domain_key: key, account_id: accountId, source: 'sso' }).execute();
}

export async function releaseSsoClaim(db: Db, accountId: number, key: string): Promise<void> {
  await db
    .deleteFrom('claimed_domains')
    .where('account_id', '=', accountId)
    .where('source', '=', 'sso')
    .where('domain_key', '=', key)
    .execute();
}
