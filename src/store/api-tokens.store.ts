import type { Kysely } from 'kysely';
import { prepared } from './prepared.ts';
import type { AccountRow, ApiTokenRow, Database } from './schema.ts';

type Db = Kysely<Database>;

export async function insertApiToken(
  db: Db,
  ownerId: number,
  values: {
    token_hash: string;
    scopes: string;
    description: string | null;
    created_at: string;
    expires_at: string | null;
    /** The oauth_clients row id, for tokens issued by POST /oauth/token. */
    oauth_client_id?: number | null;
  },
): Promise<ApiTokenRow> {
  return db
    .insertInto('api_tokens')
    .values({ ...values, account_id: ownerId, revoked_at: null })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export interface TokenWithAccount {
  token: ApiTokenRow;
  account: Pick<AccountRow, 'id' | 'token' | 'is_msp'>;
  /** The public client_id of the OAuth client that was issued this token, if any. */
  oauthClientId: string | null;
  /** Whether that client has been revoked (its tokens die with it, even one issued while the revocation ran). */
  oauthClientRevoked: boolean;
}

/** One query per request: the token by its hash, with the account it acts for. */
export async function findTokenByHash(db: Db, tokenHash: string): Promise<TokenWithAccount | undefined> {
  const row = await tokenByHash.first(db, tokenHash);
  if (!row) return undefined;
  const { account_token, account_is_msp, client_id, client_revoked_at, ...token } = row;
  return {
    token,
    account: { id: token.account_id, token: account_token, is_msp: account_is_msp },
    oauthClientId: client_id,
    oauthClientRevoked: client_revoked_at !== null,
  };
}

const tokenByHash = prepared((db: Db, tokenHash: string) =>
  db
    .selectFrom('api_tokens as t')
    .innerJoin('accounts as a', 'a.id', 't.account_id')
    .leftJoin('oauth_clients as c', 'c.id', 't.oauth_client_id')
    .select(['t.id', 't.token_hash', 't.account_id', 't.scopes', 't.description', 't.created_at', 't.expires_at', 't.revoked_at', 't.oauth_client_id', 't.last_used_at'])
    .select(['a.token as account_token', 'a.is_msp as account_is_msp', 'c.client_id as client_id', 'c.revoked_at as client_revoked_at'])
    .where('t.token_hash', '=', tokenHash),
);

export async function revokeTokenByHash(db: Db, tokenHash: string, at: string): Promise<boolean> {
  const result = await db
    .updateTable('api_tokens')
    .set({ revoked_at: at })
    .where('token_hash', '=', tokenHash)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** The API token a request authenticated with (GET /v2/me), scoped by owner like every store function. */
export async function findOwnApiToken(db: Db, accountId: number, tokenId: number): Promise<ApiTokenRow | undefined> {
  return db.selectFrom('api_tokens').selectAll().where('account_id', '=', accountId).where('id', '=', tokenId).executeTakeFirst();
}

/** A token by its hash, only when it belongs to this account and was issued to this OAuth client. */
export async function findClientTokenByHash(db: Db, ownerId: number, clientRowId: number, tokenHash: string): Promise<ApiTokenRow | undefined> {
  return db
    .selectFrom('api_tokens')
    .selectAll()
    .where('account_id', '=', ownerId)
    .where('oauth_client_id', '=', clientRowId)
    .where('token_hash', '=', tokenHash)
    .executeTakeFirst();
}

/** RFC 7009: revokes a token only when this account's OAuth client was issued it; false otherwise. */
export async function revokeClientTokenByHash(db: Db, ownerId: number, clientRowId: number, tokenHash: string, at: string): Promise<boolean> {
  const result = await db
    .updateTable('api_tokens')
    .set({ revoked_at: at })
    .where('account_id', '=', ownerId)
    .where('oauth_client_id', '=', clientRowId)
    .where('token_hash', '=', tokenHash)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** A token row with the public client_id of the OAuth client it was issued to (null for CLI-made tokens). */
export type ApiTokenListing = Omit<ApiTokenRow, 'token_hash'> & { client_id: string | null; client_revoked_at: string | null };

/** An account's tokens, oldest first; the hash is not selected. */
export async function listApiTokens(db: Db, ownerId: number): Promise<ApiTokenListing[]> {
  return db
    .selectFrom('api_tokens as t')
    .leftJoin('oauth_clients as c', 'c.id', 't.oauth_client_id')
    .select([
      't.id',
      't.account_id',
      't.scopes',
      't.description',
      't.created_at',
      't.expires_at',
      't.revoked_at',
      't.oauth_client_id',
      't.last_used_at',
      'c.client_id',
      'c.revoked_at as client_revoked_at',
    ])
    .where('t.account_id', '=', ownerId)
    .orderBy('t.id')
    .execute();
}

/**
 * Records a use of the token at `at`, unless one was recorded after `staleBefore` (so concurrent requests write it
 * at most once a minute between them).
 */
export async function touchApiToken(db: Db, ownerId: number, tokenId: number, at: string, staleBefore: string): Promise<void> {
  await db
    .updateTable('api_tokens')
    .set({ last_used_at: at })
    .where('account_id', '=', ownerId)
    .where('id', '=', tokenId)
    .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<=', staleBefore)]))
    .execute();
}
