import type { Kysely } from 'kysely';
import { findTokenByHash, touchApiToken } from '../store/api-tokens.store.ts';
import type { ApiTokenRow, Database } from '../store/schema.ts';
import { errors } from './errors.ts';
import { API_TOKEN_PATTERN, hashApiToken, isoSeconds, nowIso } from './tokens.ts';

export const SCOPES = ['read', 'write'] as const;
export type Scope = (typeof SCOPES)[number];

/** Who is calling: the account a bearer token acts for, and what the token may do. */
export interface Principal {
  accountId: number;
  accountToken: string;
  isMsp: boolean;
  scopes: ReadonlySet<Scope>;
  tokenId: number;
  /** The token's description, as given when it was made (audit records name it). */
  tokenDescription: string | null;
  /** The OAuth client the token was issued to, or null for a CLI-made token. */
  oauthClientId: string | null;
}

/** A3: every way a credential can be wrong ends in a 401 that says which, with a WWW-Authenticate header. */
export async function authenticate(db: Kysely<Database>, authorization: string | undefined): Promise<Principal> {
  if (authorization === undefined || authorization.trim() === '') throw errors.missingToken();
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  if (!match) throw errors.invalidToken('Authorization must use the Bearer scheme: "Authorization: Bearer vntg_tkn_…"');
  const secret = match[1] as string;
  if (!API_TOKEN_PATTERN.test(secret)) throw errors.invalidToken();
  const found = await findTokenByHash(db, hashApiToken(secret));
  if (!found || found.token.revoked_at !== null || found.oauthClientRevoked) throw errors.invalidToken();
  const now = nowIso();
  if (found.token.expires_at !== null && found.token.expires_at <= now) throw errors.invalidToken();
  await recordUse(db, found.token, now);
  return {
    accountId: found.account.id,
    accountToken: found.account.token,
    isMsp: found.account.is_msp === 1,
    scopes: new Set(found.token.scopes.split(',').filter((s): s is Scope => (SCOPES as readonly string[]).includes(s))),
    tokenId: found.token.id,
    tokenDescription: found.token.description,
    oauthClientId: found.oauthClientId,
  };
}

/** How often a token's last_used_at is written at most: reads stay reads, a busy token costs one UPDATE a minute. */
const LAST_USE_RESOLUTION_MS = 60_000;

async function recordUse(db: Kysely<Database>, token: ApiTokenRow, now: string): Promise<void> {
  const staleBefore = isoSeconds(new Date(Date.parse(now) - LAST_USE_RESOLUTION_MS));
  if (token.last_used_at !== null && token.last_used_at > staleBefore) return;
  await touchApiToken(db, token.account_id, token.id, now, staleBefore);
}

/** A2/A4: GET needs read, writes need write; MSP-only resources refuse other accounts with Vantage's text. */
export function authorize(principal: Principal, need: { scope: Scope; msp: boolean }): void {
  if (!principal.scopes.has(need.scope)) throw errors.insufficientScope(need.scope);
  if (need.msp && !principal.isMsp) throw errors.notMsp();
}

/** Parses `read,write` as typed on a command line; every entry must be a known scope. */
export function parseScopes(text: string): Scope[] | { error: string } {
  const entries = text.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = entries.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (entries.length === 0 || unknown.length > 0) return { error: `scopes must be a comma-separated list of ${SCOPES.join(', ')}` };
  return SCOPES.filter((s) => entries.includes(s));
}
