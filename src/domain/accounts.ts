import type { Kysely } from 'kysely';
import { countAccounts, findAccountByToken, findFirstMspAccount, insertAccount, lockManagedAccounts, setMspInvoicing } from '../store/accounts.store.ts';
import { insertApiToken, revokeTokenByHash } from '../store/api-tokens.store.ts';
import type { AccountRow, Database } from '../store/schema.ts';
import { inTransaction } from '../store/transaction.ts';
import { parseScopes, type Scope } from './auth.ts';
import { errors } from './errors.ts';
import { ensureInvoicingRecords } from './managed-accounts.ts';
import { API_TOKEN_PATTERN, hashApiToken, newApiTokenSecret, newResourceToken, nowIso } from './tokens.ts';
import { checkName } from './validators.ts';

type Db = Kysely<Database>;

/** Top-level accounts (MSPs and others) are made by operators through the CLI, not the API. */
export interface AccountView {
  token: string;
  name: string;
  msp: boolean;
  /** M11: MSP invoicing (billing profiles, invoicing fields on managed accounts); only MSPs can have it. */
  msp_invoicing: boolean;
  created_at: string;
}

export async function createAccount(db: Db, input: { name: string; msp: boolean; invoicing?: boolean }): Promise<AccountView> {
  const problem = checkName('name', input.name);
  if (problem) throw errors.invalid(problem);
  if (input.invoicing && !input.msp) throw errors.invalid('MSP invoicing is only for MSP accounts (add --msp)');
  const row = await insertAccount(db, {
    token: newResourceToken('acct'),
    parent_id: null,
    name: input.name,
    contact_email: null,
    contact_email_key: null,
    email_domain: null,
    is_msp: input.msp,
    msp_invoicing: input.invoicing ? 1 : 0,
    created_at: nowIso(),
  }, newResourceToken('wrkspc'));
  return accountView(row);
}

/** M11: turns MSP invoicing on or off for an MSP account. Turning it off keeps every profile and setting for later. */
export async function setAccountInvoicing(db: Db, accountToken: string, enabled: boolean): Promise<AccountView> {
  const account = await requireAccount(db, accountToken);
  if (account.is_msp !== 1) throw errors.invalid(`account ${accountToken} is not an MSP account; MSP invoicing is only for MSPs`);
  return inTransaction(db, async (trx) => {
    const updated = await setMspInvoicing(trx, account.id, enabled);
    if (enabled) await ensureInvoicingRecords(trx, await lockManagedAccounts(trx, account.id));
    return accountView(updated);
  });
}

export async function requireAccount(db: Db, token: string): Promise<AccountRow> {
  const row = await findAccountByToken(db, token);
  if (!row) throw errors.invalid(`account ${token} does not exist`);
  return row;
}

export async function isEmpty(db: Db): Promise<boolean> {
  return (await countAccounts(db)) === 0;
}

export async function firstMspAccount(db: Db): Promise<AccountView | undefined> {
  const row = await findFirstMspAccount(db);
  return row && accountView(row);
}

/** The secret appears here and nowhere else: only its SHA-256 is stored (A1). */
export interface CreatedApiToken {
  token: string;
  account_token: string;
  scopes: Scope[];
  description: string | null;
  created_at: string;
}

/** What an operator asks for when making a credential (a token or an OAuth client) for an account. */
export interface CredentialRequest {
  accountToken: string;
  /** `read,write` as typed on a command line. */
  scopes: string;
  description?: string | null;
}

/** Checks a credential request: known scopes, a printable description, an existing account. */
export async function credentialOwner(db: Db, input: CredentialRequest): Promise<{ account: AccountRow; scopes: Scope[] }> {
  const scopes = parseScopes(input.scopes);
  if ('error' in scopes) throw errors.invalid(scopes.error);
  if (input.description != null) {
    const problem = checkName('description', input.description);
    if (problem) throw errors.invalid(problem);
  }
  return { account: await requireAccount(db, input.accountToken), scopes };
}

export async function createApiToken(db: Db, input: CredentialRequest): Promise<CreatedApiToken> {
  const { account, scopes } = await credentialOwner(db, input);
  const secret = newApiTokenSecret();
  const row = await insertApiToken(db, account.id, {
    token_hash: hashApiToken(secret),
    scopes: scopes.join(','),
    description: input.description ?? null,
    created_at: nowIso(),
    expires_at: null,
  });
  return { token: secret, account_token: account.token, scopes, description: row.description, created_at: row.created_at };
}

export async function revokeApiToken(db: Db, secret: string): Promise<void> {
  if (!API_TOKEN_PATTERN.test(secret)) throw errors.invalid('token must look like vntg_tkn_ followed by 40 hex characters');
  const revoked = await revokeTokenByHash(db, hashApiToken(secret), nowIso());
  if (!revoked) throw errors.invalid('token is unknown or already revoked');
}

function accountView(row: AccountRow): AccountView {
  return { token: row.token, name: row.name, msp: row.is_msp === 1, msp_invoicing: row.msp_invoicing === 1, created_at: row.created_at };
}
