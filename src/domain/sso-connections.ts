import type { Kysely } from 'kysely';
import { findManagedAccount } from '../store/accounts.store.ts';
import { uniqueViolation } from '../store/errors.ts';
import type { AccountRow, Database } from '../store/schema.ts';
import * as sso from '../store/sso-connections.store.ts';
import { OBJECT_TYPES, recordAudit, type Actor, type AuditEvent } from './audit.ts';
import { errors } from './errors.ts';
import { getManagedAccount, type ManagedAccountView, type Parent } from './managed-accounts.ts';
import { isResourceToken, nowIso } from './tokens.ts';
import { checkDomain } from './validators.ts';
import { inTransaction } from '../store/transaction.ts';

type Db = Kysely<Database>;

/** SPEC §3; DECISIONS S1–S3. The connection is stored, never shown: responses are the managed account (SPEC §3). */

export const SSO_TYPES = ['saml'] as const;
/** Each additional domain is a claimed_domains row, so the list is capped. */
export const MAX_ADDITIONAL_DOMAINS = 100;
export const MAX_METADATA_URL_LENGTH = 2048;

export interface SsoPolicy {
  /** S2: accept http:// metadata URLs (development only; config.allowHttpSamlMetadata). */
  allowHttpSamlMetadata: boolean;
}

export interface CreateSsoConnectionInput {
  type?: string | null;
  saml_metadata_url?: string | null;
  additional_domains?: string[] | null;
}

export interface UpdateSsoConnectionInput {
  saml_metadata_url?: string | null;
  additional_domains?: string[] | null;
}

/** POST: S1 preconditions (an email_domain, no connection yet), then S2/S3 on the fields; 201 with the account. */
export async function createSsoConnection(
  db: Db,
  parent: Parent,
  actor: Actor,
  token: string,
  input: CreateSsoConnectionInput,
  policy: SsoPolicy,
): Promise<ManagedAccountView> {
  return inTransaction(db, async (trx) => {
    const account = await lockOwn(trx, parent, token);
    const problems: string[] = [];
    if (input.type == null) problems.push(`type is required (supported: ${SSO_TYPES.join(', ')})`);
    else if (!(SSO_TYPES as readonly string[]).includes(input.type)) problems.push(`type must be one of ${SSO_TYPES.join(', ')}`);
    if (input.saml_metadata_url == null) {
      if (input.type === 'saml') problems.push('saml_metadata_url is required when type is saml');
    } else push(problems, checkMetadataUrl(input.saml_metadata_url, policy));
    const domains = additionalDomains(problems, account, input.additional_domains ?? []);
    requireEmailDomain(problems, account);
    if (await sso.findSsoConnection(trx, account.id)) {
      problems.push('sso_connection already exists for this managed account; change it with PUT or remove it with DELETE');
    }
    if (problems.length > 0 || input.saml_metadata_url == null || input.type == null) throw errors.invalid(...problems);

    await claimExactly(trx, account.id, domains);
    await sso.insertSsoConnection(trx, account.id, {
      type: input.type,
      saml_metadata_url: input.saml_metadata_url,
      additional_domains: [...domains.values()],
      at: nowIso(),
    });
    await auditSsoConnection(trx, parent, actor, account, 'record_created', null, await ssoConnectionView(trx, account.id));
    return getManagedAccount(trx, parent, token);
  });
}

/** PUT: partial; `additional_domains` replaces the list ([] clears, absent keeps, null is refused as for C03). */
export async function updateSsoConnection(
  db: Db,
  parent: Parent,
  actor: Actor,
  token: string,
  input: UpdateSsoConnectionInput,
  policy: SsoPolicy,
): Promise<ManagedAccountView> {
  return inTransaction(db, async (trx) => {
    const account = await lockOwn(trx, parent, token);
    const problems: string[] = [];
    if (input.saml_metadata_url != null) push(problems, checkMetadataUrl(input.saml_metadata_url, policy));
    if ('additional_domains' in input && input.additional_domains === null) {
      problems.push('additional_domains must be an array of domains ([] removes all); null is not allowed');
    }
    const domains = input.additional_domains ? additionalDomains(problems, account, input.additional_domains) : null;
    requireEmailDomain(problems, account);
    const before = await ssoConnectionView(trx, account.id);
    if (!before) problems.push(noConnection());
    if (problems.length > 0) throw errors.invalid(...problems);

    if (domains) await claimExactly(trx, account.id, domains);
    await sso.updateSsoConnection(trx, account.id, {
      at: nowIso(),
      ...(input.saml_metadata_url != null ? { saml_metadata_url: input.saml_metadata_url } : {}),
      ...(domains ? { additional_domains: [...domains.values()] } : {}),
    });
    await auditSsoConnection(trx, parent, actor, account, 'record_updated', before, await ssoConnectionView(trx, account.id));
    return getManagedAccount(trx, parent, token);
  });
}

/** DELETE: 204; the SSO domains are released for any account to claim. */
export async function deleteSsoConnection(db: Db, parent: Parent, actor: Actor, token: string): Promise<void> {
  await inTransaction(db, async (trx) => {
    const account = await lockOwn(trx, parent, token);
    const before = await ssoConnectionView(trx, account.id);
    if (!before) throw errors.invalid(noConnection());
    await claimExactly(trx, account.id, new Map());
    await sso.deleteSsoConnection(trx, account.id);
    await auditSsoConnection(trx, parent, actor, account, 'record_destroyed', before, null);
  });
}

/**
 * What the audit log shows of a connection: the fields a client sets (the API never returns a connection; its
 * responses are the managed account). The metadata URL is no secret: it is the IdP's public metadata.
 */
export interface SsoConnectionView {
  type: string;
  saml_metadata_url: string;
  additional_domains: string[];
}

export async function ssoConnectionView(db: Db, accountId: number): Promise<SsoConnectionView | null> {
  const row = await sso.findSsoConnection(db, accountId);
  if (!row) return null;
  return { type: row.type, saml_metadata_url: row.saml_metadata_url, additional_domains: JSON.parse(row.additional_domains) as string[] };
}

/** A connection is recorded under its managed account: object_token is the account's token, the title its name. */
export async function auditSsoConnection(
  trx: Db,
  parent: Parent,
  actor: Actor,
  account: Pick<AccountRow, 'token' | 'name'>,
  event: AuditEvent,
  before: SsoConnectionView | null,
  after: SsoConnectionView | null,
): Promise<void> {
  await recordAudit(trx, parent.id, actor, { objectType: OBJECT_TYPES.sso_connection, objectToken: account.token, objectTitle: account.name, event, before, after });
}

/**
 * The managed-account update hands a domain from the account's SSO list to its email_domain (S3: the account's own
 * domain is never stored twice), so an account never conflicts with itself. Runs inside the caller's transaction.
 */
export async function yieldSsoDomainToEmailDomain(
  db: Db,
  parent: Parent,
  actor: Actor,
  account: Pick<AccountRow, 'id' | 'token' | 'name'>,
  domainKey: string,
): Promise<void> {
  const before = await ssoConnectionView(db, account.id);
  if (!before) return;
  const kept = before.additional_domains.filter((d) => keyOf(d) !== domainKey);
  if (kept.length === before.additional_domains.length) return;
  await sso.releaseSsoClaim(db, account.id, domainKey);
  await sso.updateSsoConnection(db, account.id, { additional_domains: kept, at: nowIso() });
  await auditSsoConnection(db, parent, actor, account, 'record_updated', before, { ...before, additional_domains: kept });
}

/** S2: an absolute https:// URL (http:// only with the development flag). It is stored, never fetched. */
export function checkMetadataUrl(value: string, policy: SsoPolicy): string | null {
  const field = 'saml_metadata_url';
  const shape = `${field} must be an absolute https:// URL such as https://idp.example.com/metadata.xml`;
  if (value.length > MAX_METADATA_URL_LENGTH) return `${field} is too long (maximum is ${MAX_METADATA_URL_LENGTH} characters)`;
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  if (!value.isWellFormed() || /[\s\u0000-\u001f\u007f-\u009f]/u.test(value) || !/^https?:\/\/[^/]/i.test(value)) return shape;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return shape;
  }
  if (url.protocol === 'http:' && !policy.allowHttpSamlMetadata) {
    return `${field} must use https:// (http:// is accepted only when the server runs with STEWARD_ALLOW_HTTP_SAML_METADATA for development)`;
  }
  if (url.hostname === '') return shape;
  if (url.username !== '' || url.password !== '') return `${field} must not contain a user name or password`;
  return null;
}

/** A token not shaped like an account token cannot exist; another parent's account reads as never existing (A5). */
async function lockOwn(db: Db, parent: Parent, token: string): Promise<AccountRow> {
  const row = isResourceToken('acct', token) ? await findManagedAccount(db, parent.id, token, { lock: true }) : undefined;
  if (!row) throw errors.notFound('Managed account');
  return row;
}

function requireEmailDomain(problems: string[], account: AccountRow): void {
  if (account.email_domain === null) {
    problems.push('email_domain is required for SSO: set the managed account\'s email_domain (PUT /v2/managed_accounts/{token}) first');
  }
}

const noConnection = () => 'sso_connection does not exist for this managed account; create it with POST first';

/**
 * S3: each entry a domain as for email_domain, de-duplicated case-insensitively (first spelling kept), the account's
 * own email_domain dropped. Returns comparison key → domain as sent, in the order sent.
 */
function additionalDomains(problems: string[], account: AccountRow, values: string[]): Map<string, string> {
  const own = account.email_domain === null ? null : keyOf(account.email_domain);
  const domains = new Map<string, string>();
  values.forEach((value, i) => {
    const checked = checkDomain(`additional_domains[${i}]`, value);
    if ('error' in checked) problems.push(checked.error);
    else if (checked.key !== own && !domains.has(checked.key)) domains.set(checked.key, value);
  });
  return domains;
}

function keyOf(domain: string): string | null {
  const checked = checkDomain('domain', domain);
  return 'key' in checked ? checked.key : null;
}

/**
 * Makes the account's SSO claims exactly `wanted` (key → domain as sent). Uniqueness is the claimed_domains primary
 * key, shared with every account's email_domain (M3, S3). Keys are released and claimed in one ascending order, so
 * two transactions trading domains on Postgres wait for each other instead of deadlocking; a concurrent claim of the
 * same domain loses with the same 400 as a sequential duplicate (M10).
 */
async function claimExactly(db: Db, accountId: number, wanted: Map<string, string>): Promise<void> {
  const held = new Set(await sso.listSsoClaims(db, accountId));
  const adding = [...wanted.keys()].filter((k) => !held.has(k));
  const taken = await sso.findKeysClaimedByOthers(db, accountId, adding);
  if (taken.size > 0) throw errors.invalid(...adding.filter((k) => taken.has(k)).map((k) => takenMessage(wanted.get(k) as string)));
  const keys = [...new Set([...held, ...adding])].sort();
  for (const key of keys) {
    if (!wanted.has(key)) await sso.releaseSsoClaim(db, accountId, key);
    else if (!held.has(key)) {
      try {
        await sso.claimSsoDomain(db, accountId, key);
      } catch (error) {
        if (uniqueViolation(error) === 'domain') throw errors.invalid(takenMessage(wanted.get(key) as string));
        throw error;
      }
    }
  }
}

const takenMessage = (domain: string) => `additional_domains contains ${domain}, which has already been taken by another account`;

function push(problems: string[], message: string | null): void {
  if (message) problems.push(message);
}
