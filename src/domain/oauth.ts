import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { Kysely } from 'kysely';
import { findClientTokenByHash, insertApiToken, revokeClientTokenByHash } from '../store/api-tokens.store.ts';
import { findOauthClientByClientId, insertOauthClient, listOauthClients as listClientRows, revokeOauthClient as revokeClientRow } from '../store/oauth-clients.store.ts';
import type { Database, OauthClientRow } from '../store/schema.ts';
import { credentialOwner, requireAccount, type CredentialRequest } from './accounts.ts';
import { SCOPES, type Scope } from './auth.ts';
import { errors } from './errors.ts';
import { API_TOKEN_PATTERN, hashApiToken, isoSeconds, nowIso } from './tokens.ts';

type Db = Kysely<Database>;

/** A6: OAuth 2.0 clients (client credentials grant, RFC 6749 §4.4) and the access tokens they are issued. */

export const CLIENT_ID_PATTERN = /^stw_client_[0-9a-f]{16}$/;

// ---- Client secrets: scrypt with a random salt, encoded `scrypt$N$r$p$salt$hash` (hex), compared in constant time.

const SCRYPT = { N: 16384, r: 8, p: 1 } as const;
const SCRYPT_KEY_BYTES = 32;

function scryptHex(secret: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(secret, salt, SCRYPT_KEY_BYTES, options, (error, key) => (error ? reject(error) : resolve(key))),
  );
}

export async function hashClientSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptHex(secret, salt, SCRYPT);
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('hex'), hash.toString('hex')].join('$');
}

/** The parameters are read from the stored value, so hashes made with other costs keep verifying. */
export async function verifyClientSecret(secret: string, encoded: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = encoded.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'hex');
  const actual = await scryptHex(secret, Buffer.from(salt, 'hex'), { N: Number(n), r: Number(r), p: Number(p) });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/**
 * Verified against when the client_id is unknown, so that costs one scrypt like a wrong secret does (no telling
 * registered client_ids apart by timing). Its value is irrelevant: an unknown client fails whatever the outcome.
 */
const UNKNOWN_CLIENT_HASH = ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, '00'.repeat(16), '00'.repeat(SCRYPT_KEY_BYTES)].join('$');

// ---- Registration (the CLI).

export interface OauthClientView {
  client_id: string;
  account_token: string;
  scopes: Scope[];
  description: string | null;
  created_at: string;
  revoked_at: string | null;
}

/** The secret appears here and nowhere else: only its scrypt hash is stored. */
export interface CreatedOauthClient extends OauthClientView {
  client_secret: string;
}

export async function createOauthClient(db: Db, input: CredentialRequest): Promise<CreatedOauthClient> {
  const { account, scopes } = await credentialOwner(db, input);
  const secret = `stw_secret_${randomBytes(32).toString('hex')}`;
  const row = await insertOauthClient(db, account.id, {
    client_id: `stw_client_${randomBytes(8).toString('hex')}`,
    secret_hash: await hashClientSecret(secret),
    scopes: scopes.join(','),
    description: input.description ?? null,
    created_at: nowIso(),
  });
  return { ...clientView(row, account.token), client_secret: secret };
}

export async function listOauthClients(db: Db, accountToken: string): Promise<OauthClientView[]> {
  const account = await requireAccount(db, accountToken);
  return (await listClientRows(db, account.id)).map((row) => clientView(row, account.token));
}

/** Revokes the client and every token it was issued: they stop working on the next request. */
export async function revokeOauthClient(db: Db, clientId: string): Promise<OauthClientView> {
  const found = CLIENT_ID_PATTERN.test(clientId) ? await findOauthClientByClientId(db, clientId) : undefined;
  if (!found) throw errors.invalid(`OAuth client ${clientId} does not exist`);
  const at = nowIso();
  if (!(await revokeClientRow(db, found.client.account_id, found.client.id, at))) {
    throw errors.invalid(`OAuth client ${clientId} is already revoked`);
  }
  return clientView({ ...found.client, revoked_at: at }, found.accountToken);
}

function clientView(row: OauthClientRow, accountToken: string): OauthClientView {
  return {
    client_id: row.client_id,
    account_token: accountToken,
    scopes: scopesOf(row.scopes),
    description: row.description,
    created_at: row.created_at,
    revoked_at: row.revoked_at,
  };
}

function scopesOf(stored: string): Scope[] {
  const granted = new Set(stored.split(','));
  return SCOPES.filter((s) => granted.has(s));
}

// ---- The authorization server's rules.

/** A client that proved its secret. */
export interface AuthenticatedClient {
  rowId: number;
  clientId: string;
  accountId: number;
  accountToken: string;
  scopes: Scope[];
  description: string | null;
}

/**
 * RFC 6749 §2.3.1: null for an unknown client_id, a wrong secret or a revoked client alike (all are invalid_client).
 * The secret is always hashed once, against a dummy when the client is unknown.
 */
export async function authenticateClient(db: Db, clientId: string, secret: string): Promise<AuthenticatedClient | null> {
  const found = CLIENT_ID_PATTERN.test(clientId) ? await findOauthClientByClientId(db, clientId) : undefined;
  if (!found) {
    await verifyClientSecret(secret, UNKNOWN_CLIENT_HASH);
    return null;
  }
  const { client } = found;
  if (!(await verifyClientSecret(secret, client.secret_hash)) || client.revoked_at !== null) return null;
  return {
    rowId: client.id,
    clientId: client.client_id,
    accountId: client.account_id,
    accountToken: found.accountToken,
    scopes: scopesOf(client.scopes),
    description: client.description,
  };
}

/** RFC 6749 §3.3: the requested scopes when all are the client's (absent: all of the client's); null otherwise. */
export function grantScopes(client: AuthenticatedClient, requested: string[] | undefined): Scope[] | null {
  if (requested === undefined) return client.scopes;
  const allowed = new Set<string>(client.scopes);
  if (requested.length === 0 || !requested.every((s) => allowed.has(s))) return null;
  return client.scopes.filter((s) => requested.includes(s));
}

/**
 * Stores an access token issued to the client: like a CLI-made token (A1: SHA-256 of the secret only) but with an
 * expiry, rounded up to the whole second (W9), and the client that holds it.
 */
export async function saveIssuedToken(
  db: Db,
  client: AuthenticatedClient,
  grant: { secret: string; scopes: Scope[]; expiresAt: Date },
): Promise<{ expiresAt: Date }> {
  const expiresAt = new Date(Math.ceil(grant.expiresAt.getTime() / 1000) * 1000);
  await insertApiToken(db, client.accountId, {
    token_hash: hashApiToken(grant.secret),
    scopes: grant.scopes.join(','),
    description: `oauth:${client.description ?? client.clientId}`,
    created_at: nowIso(),
    expires_at: isoSeconds(expiresAt),
    oauth_client_id: client.rowId,
  });
  return { expiresAt };
}

/** RFC 7009 §2.2: revokes the token when this client was issued it; anything else is quietly ignored. */
export async function revokeIssuedToken(db: Db, client: AuthenticatedClient, secret: string): Promise<void> {
  if (!API_TOKEN_PATTERN.test(secret)) return;
  await revokeClientTokenByHash(db, client.accountId, client.rowId, hashApiToken(secret), nowIso());
}

/** RFC 7662 §2.2. */
export type Introspection =
  | { active: false }
  | { active: true; scope: string; client_id: string; token_type: 'Bearer'; exp: number; iat: number; sub: string };

/** Active only for an unexpired, unrevoked token this client was issued; any other token is just inactive. */
export async function introspectToken(db: Db, client: AuthenticatedClient, secret: string): Promise<Introspection> {
  const row = API_TOKEN_PATTERN.test(secret) ? await findClientTokenByHash(db, client.accountId, client.rowId, hashApiToken(secret)) : undefined;
  if (!row || row.revoked_at !== null || row.expires_at === null || row.expires_at <= nowIso()) return { active: false };
  return {
    active: true,
    scope: scopesOf(row.scopes).join(' '),
    client_id: client.clientId,
    token_type: 'Bearer',
    exp: Date.parse(row.expires_at) / 1000,
    iat: Date.parse(row.created_at) / 1000,
    sub: client.accountToken,
  };
}
