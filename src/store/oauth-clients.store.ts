import type { Kysely } from 'kysely';
import type { Database, OauthClientRow } from './schema.ts';
import { inTransaction } from './transaction.ts';

type Db = Kysely<Database>;

export async function insertOauthClient(
  db: Db,
  ownerId: number,
  values: { client_id: string; secret_hash: string; scopes: string; description: string | null; created_at: string },
): Promise<OauthClientRow> {
  return db
    .insertInto('oauth_clients')
    .values({ ...values, account_id: ownerId, revoked_at: null })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export interface ClientWithAccount {
  client: OauthClientRow;
  /** The public token of the account the client acts for. */
  accountToken: string;
}

/**
 * Unscoped lookup by the public client_id: a client names itself when it authenticates (and an operator names it
 * on the command line), so its account is known only from the row.
 */
export async function findOauthClientByClientId(db: Db, clientId: string): Promise<ClientWithAccount | undefined> {
  const row = await db
    .selectFrom('oauth_clients as c')
    .innerJoin('accounts as a', 'a.id', 'c.account_id')
    .selectAll('c')
    .select('a.token as account_token')
    .where('c.client_id', '=', clientId)
    .executeTakeFirst();
  if (!row) return undefined;
  const { account_token, ...client } = row;
  return { client, accountToken: account_token };
}

/** An account's clients, oldest first. */
export async function listOauthClients(db: Db, ownerId: number): Promise<OauthClientRow[]> {
  return db.selectFrom('oauth_clients').selectAll().where('account_id', '=', ownerId).orderBy('id').execute();
}

/** Revokes a client and every token it was issued, together; false when it was already revoked. */
export async function revokeOauthClient(db: Db, ownerId: number, clientRowId: number, at: string): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    const result = await trx
      .updateTable('oauth_clients')
      .set({ revoked_at: at })
      .where('account_id', '=', ownerId)
      .where('id', '=', clientRowId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) return false;
    await trx
      .updateTable('api_tokens')
      .set({ revoked_at: at })
      .where('account_id', '=', ownerId)
      .where('oauth_client_id', '=', clientRowId)
      .where('revoked_at', 'is', null)
      .execute();
    return true;
  });
}
