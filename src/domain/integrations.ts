import type { Kysely } from 'kysely';
import * as store from '../store/integrations.store.ts';
import { findManagedAccount } from '../store/accounts.store.ts';
import type { Database, IntegrationRow } from '../store/schema.ts';
import { FILTERED, OBJECT_TYPES, recordAudit, type Actor, type AuditEvent } from './audit.ts';
import { errors } from './errors.ts';
import { auditingManagedAccounts } from './managed-accounts.ts';
import type { SecretBox } from './secret-box.ts';
import { isResourceToken, newResourceToken, nowIso } from './tokens.ts';
import { checkName, shown } from './validators.ts';
import { inTransaction } from '../store/transaction.ts';

type Db = Kysely<Database>;

/** Every provider key of the contract's `provider` filter on GET /v2/integrations (SPEC §5.2). */
export const PROVIDER_KEYS = [
  'aws', 'azure', 'gcp', 'snowflake', 'databricks', 'mongo', 'datadog', 'fastly', 'new_relic', 'opencost', 'open_ai', 'oracle',
  'confluent', 'planetscale', 'coralogix', 'kubernetes', 'custom_provider', 'github', 'linode', 'grafana', 'clickhouse',
  'temporal', 'twilio', 'azure_csp', 'kubernetes_agent', 'anthropic', 'anyscale', 'cursor', 'elastic', 'vercel', 'redis_cloud',
  'circle_ci', 'modal', 'eleven_labs', 'baseten', 'cloudflare', 'fireworks_ai', 'cartesia', 'depot', 'xai', 'digital_ocean',
  'together_ai', 'coreweave', 'devin', 'openrouter', 'deepgram',
] as const;

/**
 * What each provider Steward can record needs. `identifier` is the field shown as `account_identifier`;
 * `secret` is sealed at rest and never returned. aws and azure_csp are made by operators (CLI, fixtures);
 * custom_provider, gcp and azure also through the API.
 */
const PROVIDER_SHAPES = {
  aws: { identifier: 'account_identifier', fields: ['account_identifier'], optional: [], secret: null },
  azure_csp: { identifier: 'account_identifier', fields: ['account_identifier'], optional: [], secret: null },
  custom_provider: { identifier: 'name', fields: ['name'], optional: ['description'], secret: null },
  gcp: { identifier: 'billing_account_id', fields: ['billing_account_id', 'project_id', 'dataset_name'], optional: [], secret: null },
  azure: { identifier: 'tenant', fields: ['tenant', 'app_id'], optional: [], secret: 'password' },
} as const satisfies Record<string, { identifier: string; fields: readonly string[]; optional: readonly string[]; secret: string | null }>;

export type Provider = keyof typeof PROVIDER_SHAPES;
export const PROVIDERS = Object.keys(PROVIDER_SHAPES) as Provider[];

/** The creation field a provider shows as `account_identifier` (e.g. gcp: billing_account_id), if Steward knows the provider. */
export function identifierField(provider: string): string | undefined {
  return (PROVIDER_SHAPES as Record<string, { identifier: string }>)[provider]?.identifier;
}

/** SPEC §2.6: providers whose delegations can be limited to some provider accounts. */
const SCOPABLE: ReadonlySet<string> = new Set(['azure_csp']);

const MAX_SECRET_LENGTH = 1024;
const MAX_DESCRIPTION_LENGTH = 1000;
const AZURE_SUBSCRIPTION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The SecretBox purpose of an integration's secret: bound to its token, so a ciphertext moved to another row does not open. */
export const secretPurpose = (integrationToken: string) => `integrations.secret:${integrationToken}`;

/** SPEC §5.1. Steward stores only `pending` and `connected` (see createIntegration). */
export const INTEGRATION_STATUSES = ['connected', 'error', 'pending', 'importing', 'imported', 'disconnected'] as const;
export type IntegrationStatus = (typeof INTEGRATION_STATUSES)[number];

/** SPEC §5.1. */
export interface IntegrationView {
  token: string;
  provider: string;
  account_identifier: string | null;
  status: IntegrationStatus;
  last_updated: string | null;
  workspace_tokens: string[];
  created_at: string;
  managed_account_tokens: string[];
  enriched_by: string[];
}

/** SPEC §2.6. */
export interface ManagedAccountIntegrationView {
  access_credential_token: string;
  provider: string;
  provider_account_identifiers: string[];
}

/** The provider plus its creation fields, e.g. `{provider: 'gcp', billing_account_id, project_id, dataset_name}`. */
export type IntegrationInput = { provider: string } & Record<string, string | null | undefined>;

/**
 * Records an integration owned by `ownerId`, feeding the owner's default workspace. Steward never contacts the
 * provider: fields are checked as text, and the status says the credential has not been checked (`pending`),
 * except for custom providers, which have no credential (`connected`).
 */
export async function createIntegration(db: Db, ownerId: number, actor: Actor, input: IntegrationInput, secrets?: SecretBox): Promise<IntegrationView> {
  const shape = (PROVIDER_SHAPES as Record<string, (typeof PROVIDER_SHAPES)[Provider]>)[input.provider];
  if (!shape) throw errors.invalid(`provider must be one of ${PROVIDERS.join(', ')}`);
  const problems: string[] = [];
  const settings: Record<string, string> = {};
  for (const field of shape.fields) {
    const value = input[field];
    if (value == null) problems.push(`${field} is required`);
    else if (push(problems, checkName(field, value)) && field !== 'account_identifier') settings[field] = value;
  }
  for (const field of shape.optional) {
    const value = input[field];
    if (value != null && push(problems, checkName(field, value, MAX_DESCRIPTION_LENGTH))) settings[field] = value;
  }
  let secret: string | undefined;
  if (shape.secret) {
    const value = input[shape.secret];
    // Messages about a secret never quote it.
    if (value == null) problems.push(`${shape.secret} is required`);
    else if (value.length === 0) problems.push(`${shape.secret} can't be blank`);
    else if (value.length > MAX_SECRET_LENGTH) problems.push(`${shape.secret} is too long (maximum is ${MAX_SECRET_LENGTH} characters)`);
    else if (!value.isWellFormed()) problems.push(`${shape.secret} must be valid Unicode text`);
    else secret = value;
  }
  if (problems.length > 0) throw errors.invalid(...problems);

  const token = newResourceToken('accss_crdntl');
  if (secret !== undefined && !secrets) throw new Error(`createIntegration: a ${input.provider} integration needs a SecretBox for its ${shape.secret}`);
  return inTransaction(db, async (trx) => {
    const row = await store.insertIntegration(trx, ownerId, {
      token,
      provider: input.provider,
      account_identifier: input[shape.identifier] as string,
      status: input.provider === 'custom_provider' ? 'connected' : 'pending',
      created_at: nowIso(),
      settings: JSON.stringify(settings),
      secret: secret === undefined ? null : (secrets as SecretBox).seal(secretPurpose(token), secret),
    });
    const created = (await integrationViews(trx, [row]))[0] as IntegrationView;
    await audit(trx, ownerId, actor, 'record_created', null, auditView(row, created));
    return created;
  });
}

export async function listIntegrations(
  db: Db,
  ownerId: number,
  filter: { provider?: string; account_identifier?: string },
  page: { page: number; limit: number },
): Promise<{ items: IntegrationView[]; total: number }> {
  if (filter.provider !== undefined && !(PROVIDER_KEYS as readonly string[]).includes(filter.provider)) {
    throw errors.invalid(`provider must be one of ${PROVIDER_KEYS.join(', ')}`);
  }
  if (filter.account_identifier !== undefined && filter.provider === undefined) {
    throw errors.invalid('account_identifier can only be used together with provider (e.g. provider=gcp&account_identifier=…)');
  }
  const { rows, total } = await store.listIntegrations(db, ownerId, filter, { offset: (page.page - 1) * page.limit, limit: page.limit });
  return { items: await integrationViews(db, rows), total };
}

export async function getIntegration(db: Db, ownerId: number, token: string): Promise<IntegrationView> {
  const row = await findOwn(db, ownerId, token);
  if (!row) throw errors.notFound('Integration');
  return (await integrationViews(db, [row]))[0] as IntegrationView;
}

/**
 * PUT changes only `workspace_tokens` (SPEC §5.2), replacing the list; absent keeps it. As for the managed
 * accounts' lists (field case C03), a null list is refused rather than guessed at. All or nothing.
 */
export async function updateIntegration(
  db: Db,
  ownerId: number,
  actor: Actor,
  token: string,
  input: { workspace_tokens?: string[] | null },
): Promise<IntegrationView> {
  return inTransaction(db, async (trx) => {
    const row = await findOwn(trx, ownerId, token, { lock: true });
    if (!row) throw errors.notFound('Integration');
    if ('workspace_tokens' in input && input.workspace_tokens === null) {
      throw errors.invalid('workspace_tokens must be an array of workspace tokens ([] removes all); null is not allowed');
    }
    const before = (await integrationViews(trx, [row]))[0] as IntegrationView;
    if (!input.workspace_tokens) {
      await audit(trx, ownerId, actor, 'record_updated', auditView(row, before), auditView(row, before));
      return before;
    }

    const tokens = input.workspace_tokens;
    const found = await store.findWorkspacesByTokens(trx, ownerId, tokens.filter((t) => isResourceToken('wrkspc', t)));
    const byToken = new Map(found.map((w) => [w.token, w.id]));
    const problems: string[] = [];
    const seen = new Set<string>();
    for (const t of tokens) {
      if (seen.has(t)) problems.push(`workspace_tokens lists ${t} more than once`);
      else if (!byToken.has(t)) problems.push(`workspace_tokens contains ${shown(t)}, which is not one of your workspaces`);
      seen.add(t);
    }
    if (problems.length > 0) throw errors.invalid(...problems);

    await store.replaceIntegrationWorkspaces(trx, row.id, tokens.map((t) => byToken.get(t) as number));
    const last_updated = nowIso();
    await store.touchIntegration(trx, ownerId, row.id, last_updated);
    const after = (await integrationViews(trx, [{ ...row, last_updated }]))[0] as IntegrationView;
    await audit(trx, ownerId, actor, 'record_updated', auditView(row, before), auditView(row, after));
    return after;
  });
}

/**
 * M9: 204, its delegations and workspace links go with it (managed accounts no longer list it, which is recorded
 * for each of them); then 404.
 */
export async function deleteIntegration(db: Db, ownerId: number, actor: Actor, token: string): Promise<void> {
  if (!isResourceToken('accss_crdntl', token)) throw errors.notFound('Integration');
  await inTransaction(db, (trx) =>
    // The managed accounts are locked before the integration, in the order an account PUT delegating it takes them.
    auditingManagedAccounts(trx, ownerId, actor, async () => {
      const row = await findOwn(trx, ownerId, token, { lock: true });
      if (!row) throw errors.notFound('Integration');
      const before = (await integrationViews(trx, [row]))[0] as IntegrationView;
      await store.deleteIntegration(trx, ownerId, token);
      await audit(trx, ownerId, actor, 'record_destroyed', auditView(row, before), null);
    }),
  );
}

/** The view the audit log diffs: the wire view, plus the secret's key (always FILTERED) when the integration has one. */
function auditView(row: IntegrationRow, view: IntegrationView): object {
  const secretField = (PROVIDER_SHAPES as Record<string, { secret: string | null }>)[row.provider]?.secret;
  return secretField && row.secret !== null ? { ...view, [secretField]: FILTERED } : view;
}

/** One audit record for an integration, titled with its provider and account identifier (`aws 123456789012`). */
async function audit(trx: Db, ownerId: number, actor: Actor, event: AuditEvent, before: object | null, after: object | null): Promise<void> {
  const subject = (after ?? before) as IntegrationView;
  await recordAudit(trx, ownerId, actor, { objectType: OBJECT_TYPES.integration, objectToken: subject.token, objectTitle: integrationTitle(subject), event, before, after });
}

const integrationTitle = (view: Pick<IntegrationView, 'provider' | 'account_identifier'>) => [view.provider, view.account_identifier].filter(Boolean).join(' ');

/** SPEC §2.6 row 9: 404 unless the parent's credential is delegated to the parent's managed account. */
export async function getManagedAccountIntegration(
  db: Db,
  parentId: number,
  accountToken: string,
  integrationToken: string,
): Promise<ManagedAccountIntegrationView> {
  const delegation = await findDelegation(db, parentId, accountToken, integrationToken);
  if (!delegation) throw errors.notFound('Integration');
  return delegationView(delegation);
}

/**
 * SPEC §2.6 row 10: replaces the provider account identifiers a delegation imports; [] = no filter. Only providers
 * that support scoping (azure_csp, whose identifiers are Azure subscription ids) accept a non-empty list.
 */
export async function updateManagedAccountIntegration(
  db: Db,
  parentId: number,
  actor: Actor,
  accountToken: string,
  integrationToken: string,
  input: { provider_account_identifiers: string[] },
): Promise<ManagedAccountIntegrationView> {
  return inTransaction(db, async (trx) => {
    // Locking the managed account first orders this PUT after (or before) a concurrent PUT/DELETE of that account.
    const account = isResourceToken('acct', accountToken) ? await findManagedAccount(trx, parentId, accountToken, { lock: true }) : undefined;
    const delegation = account && (await findDelegation(trx, parentId, accountToken, integrationToken, { lock: true }));
    if (!account || !delegation) throw errors.notFound('Integration');
    const identifiers = input.provider_account_identifiers;
    const problems: string[] = [];
    if (identifiers.length > 0 && !SCOPABLE.has(delegation.provider)) {
      problems.push(
        `provider_account_identifiers must be [] for ${/^[aeiou]/.test(delegation.provider) ? 'an' : 'a'} ${delegation.provider} integration: only ${[...SCOPABLE].join(', ')} delegations can be limited to some provider accounts`,
      );
    } else {
      const seen = new Set<string>();
      identifiers.forEach((id, i) => {
        if (!AZURE_SUBSCRIPTION_ID.test(id)) {
          problems.push(`provider_account_identifiers[${i}] must be an Azure subscription id (a GUID such as 8c1f7a0e-1f2b-4c2b-9f3d-5a6b7c8d9e01)`);
        } else if (seen.has(id.toLowerCase())) problems.push(`provider_account_identifiers lists ${id} more than once`);
        seen.add(id.toLowerCase());
      });
    }
    if (problems.length > 0) throw errors.invalid(...problems);
    await store.updateDelegationScope(trx, delegation.id, identifiers);
    const before = delegationView(delegation);
    const after = delegationView({ ...delegation, provider_account_identifiers: JSON.stringify(identifiers) });
    // A delegation is recorded under its managed account (as its SSO connection is), naming the integration in the view.
    await recordAudit(trx, parentId, actor, {
      objectType: OBJECT_TYPES.managed_account_integration,
      objectToken: account.token,
      objectTitle: account.name,
      event: 'record_updated',
      before: { managed_account_token: account.token, ...before },
      after: { managed_account_token: account.token, ...after },
    });
    return after;
  });
}

export async function integrationViews(db: Db, rows: IntegrationRow[]): Promise<IntegrationView[]> {
  const ids = rows.map((r) => r.id);
  const [delegated, workspaces] = await Promise.all([store.loadDelegateTokens(db, ids), store.loadWorkspaceTokens(db, ids)]);
  return rows.map((row) => ({
    token: row.token,
    provider: row.provider,
    account_identifier: row.account_identifier,
    status: row.status as IntegrationStatus,
    last_updated: row.last_updated,
    workspace_tokens: workspaces.get(row.id) ?? [],
    created_at: row.created_at,
    managed_account_tokens: delegated.get(row.id) ?? [],
    enriched_by: [],
  }));
}

/** A token not shaped like an integration token cannot exist, so it never reaches the database. */
async function findOwn(db: Db, ownerId: number, token: string, options: { lock?: boolean } = {}): Promise<IntegrationRow | undefined> {
  return isResourceToken('accss_crdntl', token) ? store.findIntegration(db, ownerId, token, options) : undefined;
}

async function findDelegation(
  db: Db,
  parentId: number,
  accountToken: string,
  integrationToken: string,
  options: { lock?: boolean } = {},
): Promise<store.DelegationRow | undefined> {
  if (!isResourceToken('acct', accountToken) || !isResourceToken('accss_crdntl', integrationToken)) return undefined;
  return store.findDelegation(db, parentId, accountToken, integrationToken, options);
}

function delegationView(row: store.DelegationRow): ManagedAccountIntegrationView {
  return {
    access_credential_token: row.integration_token,
    provider: row.provider,
    provider_account_identifiers: JSON.parse(row.provider_account_identifiers) as string[],
  };
}

/** Adds a non-null message to problems; returns true when the check passed. */
function push(problems: string[], message: string | null): boolean {
  if (message) problems.push(message);
  return message === null;
}
