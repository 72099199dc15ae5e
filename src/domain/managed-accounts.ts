import { isDeepStrictEqual } from 'node:util';
import type { Kysely } from 'kysely';
import * as accounts from '../store/accounts.store.ts';
import * as profileStore from '../store/billing-profiles.store.ts';
import { findBillingRulesByTokens, listApplyToAllRules } from '../store/billing-rules.store.ts';
import { uniqueViolation } from '../store/errors.ts';
import { findIntegrationsByTokens } from '../store/integrations.store.ts';
import type { AccountRow, BillingInformationRow, BillingRuleRow, BusinessInformationRow, Database } from '../store/schema.ts';
import { endOfStageIndex, firstStageViolation, STAGE_NAMES, type Stage } from './billing-rule-stages.ts';
import {
  billingInformationPatch,
  billingInformationView,
  businessInformationView,
  customFieldsJson,
  type BillingInformationInput,
  type BillingInformationView,
  type BusinessInformationInput,
  type BusinessInformationView,
} from './billing-profiles.ts';
import { OBJECT_TYPES, recordAudit, type Actor } from './audit.ts';
import { errors } from './errors.ts';
import { auditSsoConnection, ssoConnectionView, yieldSsoDomainToEmailDomain } from './sso-connections.ts';
import { isResourceToken, newResourceToken, nowIso } from './tokens.ts';
import { checkDomain, checkEmail, checkName, emailDomainAscii, emailKey, shown } from './validators.ts';
import { inTransaction } from '../store/transaction.ts';

type Db = Kysely<Database>;

/** The account a request acts for (the MSP parent). */
export interface Parent {
  id: number;
  token: string;
}

export interface ManagedAccountPolicy {
  /** M2: when non-empty, contact emails must be at one of these domains or below. */
  allowedContactDomains: readonly string[];
}

export interface ManagedAccountInput {
  name?: string | null;
  contact_email?: string | null;
  access_credential_tokens?: string[] | null;
  billing_rule_tokens?: string[] | null;
  email_domain?: string | null;
  /** M11 (update only, parents with MSP invoicing): "" clears the profile. */
  msp_billing_profile_token?: string | null;
  payment_terms_days?: number | null;
  include_managed_account_integrations?: boolean | null;
  billing_information_attributes?: (BillingInformationInput & { id?: number | null }) | null;
  business_information_attributes?: (BusinessInformationInput & { id?: number | null }) | null;
}

/** The wire shape (SPEC §2.2); the invoicing keys are there exactly when the parent has MSP invoicing (M11). */
export interface ManagedAccountView extends Partial<InvoicingView> {
  token: string;
  name: string;
  contact_email: string;
  parent_account_token: string;
  access_credential_tokens: string[];
  billing_rule_tokens: string[];
  email_domain: string | null;
}

/** M11: the five keys added when the parent has MSP invoicing enabled. */
export interface InvoicingView {
  msp_billing_profile_token: string | null;
  payment_terms_days: number;
  include_managed_account_integrations: boolean;
  billing_information_attributes: BillingInformationView;
  business_information_attributes: BusinessInformationView;
}

export async function listManagedAccounts(
  db: Db,
  parent: Parent,
  page: { page: number; limit: number },
): Promise<{ items: ManagedAccountView[]; total: number }> {
  const { rows, total } = await accounts.listManagedAccounts(db, parent.id, { offset: (page.page - 1) * page.limit, limit: page.limit });
  return { items: await views(db, parent, rows), total };
}

export async function getManagedAccount(db: Db, parent: Parent, token: string): Promise<ManagedAccountView> {
  const row = await findOwn(db, parent, token);
  if (!row) throw errors.notFound('Managed account');
  return view(db, parent, row);
}

export async function createManagedAccount(
  db: Db,
  parent: Parent,
  actor: Actor,
  input: ManagedAccountInput,
  policy: ManagedAccountPolicy,
): Promise<ManagedAccountView> {
  const problems: string[] = [];
  const name = required(problems, 'name', input.name);
  const email = required(problems, 'contact_email', input.contact_email);
  if (name !== undefined) push(problems, checkName('name', name));
  if (email !== undefined) push(problems, checkContactEmail(email, policy));
  const domainKey = input.email_domain == null ? null : domainKeyOrProblem(problems, input.email_domain);

  return inTransaction(db, async (trx) => {
    const integrationIds = await resolveIntegrations(trx, parent, problems, input.access_credential_tokens ?? []);
    const rules = await resolveRules(trx, parent, problems, input.billing_rule_tokens ?? []);
    if (problems.length > 0 || name === undefined || email === undefined) throw errors.invalid(...problems);

    const ordered = await withApplyToAllRules(trx, parent, rules);
    const row = await translateUnique(() =>
      accounts.insertAccount(trx, {
        token: newResourceToken('acct'),
        parent_id: parent.id,
        name,
        contact_email: email,
        contact_email_key: emailKey(email),
        email_domain: input.email_domain ?? null,
        is_msp: false,
        created_at: nowIso(),
      }, newResourceToken('wrkspc')),
    );
    if (domainKey) await translateUnique(() => accounts.claimDomain(trx, row.id, domainKey, 'email_domain'));
    await accounts.replaceRuleAssignments(trx, row.id, ordered.map((r) => r.id));
    await accounts.replaceDelegations(trx, row.id, integrationIds);
    const created = await view(trx, parent, row);
    await audit(trx, parent, actor, 'record_created', null, created);
    return created;
  });
}

/** M6: partial; absent (or null) scalars keep their value. The whole change commits or none of it does. */
export async function updateManagedAccount(
  db: Db,
  parent: Parent,
  actor: Actor,
  token: string,
  input: ManagedAccountInput,
  policy: ManagedAccountPolicy,
): Promise<ManagedAccountView> {
  return inTransaction(db, async (trx) => {
    const row = await findOwn(trx, parent, token, { lock: true });
    if (!row) throw errors.notFound('Managed account');
    const before = await view(trx, parent, row);

    const problems: string[] = [];
    const patch: accounts.AccountPatch = {};
    if (input.name != null) {
      if (push(problems, checkName('name', input.name))) patch.name = input.name;
    }
    if (input.contact_email != null) {
      if (push(problems, checkContactEmail(input.contact_email, policy))) {
        patch.contact_email = input.contact_email;
        patch.contact_email_key = emailKey(input.contact_email);
      }
    }
    let domainKey: string | null = null;
    if (input.email_domain != null) {
      domainKey = domainKeyOrProblem(problems, input.email_domain);
      patch.email_domain = input.email_domain;
    }
    // Field case C03: a null list is refused rather than guessed at ([] clears, absent keeps).
    for (const field of ['access_credential_tokens', 'billing_rule_tokens'] as const) {
      if (field in input && input[field] === null) problems.push(`${field} must be an array of tokens ([] removes all); null is not allowed`);
    }
    const integrationIds = input.access_credential_tokens ? await resolveIntegrations(trx, parent, problems, input.access_credential_tokens) : null;
    const rules = input.billing_rule_tokens ? await resolveRules(trx, parent, problems, input.billing_rule_tokens) : null;
    const invoicing = await checkInvoicing(trx, parent, row, input, problems);
    if (problems.length > 0) throw errors.invalid(...problems);

    await translateUnique(() => accounts.updateManagedAccount(trx, parent.id, row.id, patch));
    if (domainKey) {
      await accounts.releaseDomains(trx, row.id, 'email_domain');
      await yieldSsoDomainToEmailDomain(trx, parent, actor, { ...row, ...patch }, domainKey);
      await translateUnique(() => accounts.claimDomain(trx, row.id, domainKey, 'email_domain'));
    }
    if (rules) await accounts.replaceRuleAssignments(trx, row.id, rules.map((r) => r.id));
    if (integrationIds) await accounts.replaceDelegations(trx, row.id, integrationIds);
    if (invoicing) await applyInvoicing(trx, parent, row, invoicing);
    const after = await view(trx, parent, { ...row, ...patch, ...invoicing?.settings });
    await audit(trx, parent, actor, 'record_updated', before, after);
    return after;
  });
}

/** M9: its SSO connection and delegations go with it; the SSO connection's end is recorded too. */
export async function deleteManagedAccount(db: Db, parent: Parent, actor: Actor, token: string): Promise<void> {
  await inTransaction(db, async (trx) => {
    const row = await findOwn(trx, parent, token, { lock: true });
    if (!row) throw errors.notFound('Managed account');
    const before = await view(trx, parent, row);
    const sso = await ssoConnectionView(trx, row.id);
    await accounts.deleteManagedAccount(trx, parent.id, row.token);
    await audit(trx, parent, actor, 'record_destroyed', before, null);
    if (sso) await auditSsoConnection(trx, parent, actor, row, 'record_destroyed', sso, null);
  });
}

/** One audit record for a managed account, titled with its name. */
async function audit(
  trx: Db,
  parent: Parent,
  actor: Actor,
  event: 'record_created' | 'record_updated' | 'record_destroyed',
  before: ManagedAccountView | null,
  after: ManagedAccountView | null,
): Promise<void> {
  const subject = (after ?? before) as ManagedAccountView;
  await recordAudit(trx, parent.id, actor, { objectType: OBJECT_TYPES.managed_account, objectToken: subject.token, objectTitle: subject.name, event, before, after });
}

/**
 * Runs `change` (another object's change that can rewrite managed accounts' lists: a billing rule deleted or applied
 * to all, an integration deleted) and records record_updated for each of the owner's managed accounts it changed.
 * The accounts are locked first (id order, as rule writes lock them), so no concurrent account write lands between
 * the two snapshots and is recorded as this change's; callers lock the object they change only inside `change`.
 */
export async function auditingManagedAccounts<T>(db: Db, ownerId: number, actor: Actor, change: () => Promise<T>): Promise<T> {
  await accounts.lockManagedAccounts(db, ownerId);
  const parent = await accounts.findAccountById(db, ownerId);
  if (!parent) throw new Error(`auditingManagedAccounts: account ${ownerId} does not exist`);
  const snapshot = async () => new Map((await views(db, parent, await accounts.listAllManagedAccounts(db, ownerId))).map((v) => [v.token, v]));
  const before = await snapshot();
  const result = await change();
  for (const [token, after] of await snapshot()) {
    const was = before.get(token);
    if (was && !isDeepStrictEqual(was, after)) await audit(db, parent, actor, 'record_updated', was, after);
  }
  return result;
}

/** A token not shaped like an account token cannot exist, so it never reaches the database. */
async function findOwn(db: Db, parent: Parent, token: string, options: { lock?: boolean } = {}): Promise<AccountRow | undefined> {
  return isResourceToken('acct', token) ? accounts.findManagedAccount(db, parent.id, token, options) : undefined;
}

async function view(db: Db, parent: Parent, row: AccountRow): Promise<ManagedAccountView> {
  return (await views(db, parent, [row]))[0] as ManagedAccountView;
}

async function views(db: Db, parent: Parent, rows: accounts.AccountListRow[]): Promise<ManagedAccountView[]> {
  const ids = rows.map((r) => r.id);
  const [rules, delegated] = await Promise.all([accounts.loadRuleTokens(db, ids), accounts.loadDelegatedTokens(db, ids)]);
  const invoicing = await invoicingViews(db, parent, rows);
  return rows.map((row) => ({
    token: row.token,
    name: row.name,
    contact_email: row.contact_email ?? '',
    parent_account_token: parent.token,
    access_credential_tokens: delegated.get(row.id) ?? [],
    billing_rule_tokens: rules.get(row.id) ?? [],
    email_domain: row.email_domain,
    ...invoicing?.get(row.id),
  }));
}

function required(problems: string[], field: string, value: string | null | undefined): string | undefined {
  if (value == null) {
    problems.push(`${field} is required`);
    return undefined;
  }
  return value;
}

/** Adds a non-null message to problems; returns true when the check passed. */
function push(problems: string[], message: string | null): boolean {
  if (message) problems.push(message);
  return message === null;
}

function checkContactEmail(email: string, policy: ManagedAccountPolicy): string | null {
  const syntax = checkEmail('contact_email', email);
  if (syntax || policy.allowedContactDomains.length === 0) return syntax;
  const domain = emailDomainAscii(email);
  const allowed = policy.allowedContactDomains.some((d) => domain === d.toLowerCase() || domain.endsWith(`.${d.toLowerCase()}`));
  return allowed ? null : `contact_email must be an address at ${policy.allowedContactDomains.join(' or ')} (or a subdomain)`;
}

function domainKeyOrProblem(problems: string[], domain: string): string | null {
  const checked = checkDomain('email_domain', domain);
  if ('error' in checked) {
    problems.push(checked.error);
    return null;
  }
  return checked.key;
}

/** M4: every entry is one of the parent's own resources, listed once; foreign tokens read as unknown (A5). */
function checkTokenList(problems: string[], field: string, tokens: string[], known: Set<string>): void {
  const seen = new Set<string>();
  for (const token of tokens) {
    if (seen.has(token)) problems.push(`${field} lists ${shown(token)} more than once`);
    else if (!known.has(token)) problems.push(`${field} contains ${shown(token)}, which is not one of your ${field === 'billing_rule_tokens' ? 'billing rules' : 'integrations'}`);
    seen.add(token);
  }
}

async function resolveIntegrations(db: Db, parent: Parent, problems: string[], tokens: string[]): Promise<number[]> {
  const found = await findIntegrationsByTokens(db, parent.id, tokens.filter((t) => isResourceToken('accss_crdntl', t)));
  checkTokenList(problems, 'access_credential_tokens', tokens, new Set(found.map((i) => i.token)));
  const byToken = new Map(found.map((i) => [i.token, i.id]));
  return [...new Set(tokens)].flatMap((t) => byToken.get(t) ?? []);
}

/** M4 + M5: known, unique, and grouped by execution stage; returns the rules in the order sent. */
async function resolveRules(db: Db, parent: Parent, problems: string[], tokens: string[]): Promise<BillingRuleRow[]> {
  const found = await findBillingRulesByTokens(db, parent.id, tokens.filter((t) => isResourceToken('bllng_rule', t)));
  const before = problems.length;
  checkTokenList(problems, 'billing_rule_tokens', tokens, new Set(found.map((r) => r.token)));
  if (problems.length > before) return [];
  const byToken = new Map(found.map((r) => [r.token, r]));
  const rules = tokens.map((t) => byToken.get(t) as BillingRuleRow);
  const at = firstStageViolation(rules.map((r) => r.stage as Stage));
  if (at !== null) {
    const rule = rules[at] as BillingRuleRow;
    const previous = rules[at - 1] as BillingRuleRow;
    problems.push(
      `billing_rule_tokens must be ordered by execution group (${Object.values(STAGE_NAMES).join(', then ')}): ` +
        `${rule.token} (${STAGE_NAMES[rule.stage as Stage]}) cannot come after ${previous.token} (${STAGE_NAMES[previous.stage as Stage]})`,
    );
  }
  return rules;
}

/** M5 on create: apply-to-all rules not listed join at the end of their own stage, in creation order. */
async function withApplyToAllRules(db: Db, parent: Parent, listed: BillingRuleRow[]): Promise<BillingRuleRow[]> {
  const result = [...listed];
  const present = new Set(listed.map((r) => r.id));
  for (const rule of await listApplyToAllRules(db, parent.id)) {
    if (present.has(rule.id)) continue;
    result.splice(endOfStageIndex(result.map((r) => r.stage as Stage), rule.stage as Stage), 0, rule);
    present.add(rule.id);
  }
  return result;
}

/** M10: the database decides uniqueness; the loser of a race gets the same 400 as a sequential duplicate. */
async function translateUnique<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    const rule = uniqueViolation(error);
    if (rule === 'contact_email') throw errors.invalid('contact_email has already been taken by another account');
    if (rule === 'domain') throw errors.invalid('email_domain has already been taken by another account');
    throw error;
  }
}

const INVOICING_FIELDS = [
  'msp_billing_profile_token',
  'payment_terms_days',
  'include_managed_account_integrations',
  'billing_information_attributes',
  'business_information_attributes',
] as const;

/** A checked M11 change, written only once the whole request has passed. */
interface InvoicingChange {
  settings: accounts.InvoicingPatch;
  billing?: profileStore.BillingInformationPatch;
  /** Replacement custom_fields JSON; undefined keeps them. */
  customFields?: string;
}

/**
 * M11: the invoicing fields need MSP invoicing on the parent, else each one sent is a 400 naming it. A profile must be
 * the parent's own (another MSP's reads as unknown, A5); "" clears it. Nested `token`s, when sent, must be the
 * record's own; Rails' `id` is accepted and ignored (Steward exposes no integer ids).
 */
async function checkInvoicing(db: Db, parent: Parent, row: AccountRow, input: ManagedAccountInput, problems: string[]): Promise<InvoicingChange | null> {
  const sent = INVOICING_FIELDS.filter((field) => input[field] != null);
  if (sent.length === 0) return null;
  if (!(await accounts.hasMspInvoicing(db, parent.id))) {
    for (const field of sent) problems.push(`${field} can only be set when MSP invoicing is enabled for your account`);
    return null;
  }
  const change: InvoicingChange = { settings: {} };
  const profileToken = input.msp_billing_profile_token;
  if (profileToken === '') change.settings.msp_billing_profile_id = null;
  else if (profileToken != null) {
    // A share lock on Postgres: the profile cannot be deleted between this check and the commit.
    const profile = isResourceToken('blng_prfl', profileToken) ? await profileStore.findBillingProfile(db, parent.id, profileToken, { lock: 'share' }) : undefined;
    if (profile) change.settings.msp_billing_profile_id = profile.id;
    else problems.push(`msp_billing_profile_token ${shown(profileToken)} is not one of your billing profiles`);
  }
  if (input.payment_terms_days != null) change.settings.payment_terms_days = input.payment_terms_days;
  if (input.include_managed_account_integrations != null) change.settings.include_managed_account_integrations = input.include_managed_account_integrations ? 1 : 0;
  if (input.billing_information_attributes != null || input.business_information_attributes != null) {
    const existing = await profileStore.findAccountRecords(db, row.id);
    if (input.billing_information_attributes != null) {
      change.billing = billingInformationPatch(problems, 'billing_information_attributes', input.billing_information_attributes, existing.billing?.token);
    }
    change.customFields = customFieldsJson(problems, 'business_information_attributes', input.business_information_attributes, existing.business?.token);
  }
  return change;
}

async function applyInvoicing(db: Db, parent: Parent, row: AccountRow, change: InvoicingChange): Promise<void> {
  await accounts.updateInvoicingSettings(db, parent.id, row.id, change.settings);
  if (!change.billing && change.customFields === undefined) return;
  const records = await profileStore.ensureAccountRecords(db, [row.id], newRecordTokens);
  const billing = records.billing.get(row.id);
  const business = records.business.get(row.id);
  if (change.billing && billing) await profileStore.updateBillingInformation(db, billing.id, change.billing);
  if (change.customFields !== undefined && business) await profileStore.updateBusinessInformation(db, business.id, change.customFields);
}

const newRecordTokens = { billing: () => newResourceToken('blng_inf'), business: () => newResourceToken('biz_inf') };

/**
 * M11: the billing and business information records of these managed accounts, made where missing. Runs when MSP
 * invoicing is switched on (for every existing account) and when an account is created under an invoicing parent,
 * so reading an account never has to write.
 */
export async function ensureInvoicingRecords(db: Db, accountIds: number[]): Promise<void> {
  await profileStore.ensureAccountRecords(db, accountIds, newRecordTokens);
}

/** M11: with MSP invoicing on, every account shows the five keys (its two records are made with it, see above). */
async function invoicingViews(db: Db, parent: Parent, rows: accounts.AccountListRow[]): Promise<Map<number, InvoicingView> | null> {
  if (rows.length === 0 || !(await accounts.hasMspInvoicing(db, parent.id))) return null;
  const ids = rows.map((r) => r.id);
  const [records, profileTokens] = await Promise.all([
    profileStore.ensureAccountRecords(db, ids, newRecordTokens),
    profileStore.loadBillingProfileTokens(db, parent.id, rows.flatMap((r) => (r.msp_billing_profile_id === null ? [] : [r.msp_billing_profile_id]))),
  ]);
  return new Map(
    rows.map((row) => [
      row.id,
      {
        msp_billing_profile_token: row.msp_billing_profile_id === null ? null : (profileTokens.get(row.msp_billing_profile_id) ?? null),
        payment_terms_days: row.payment_terms_days ?? 10,
        include_managed_account_integrations: row.include_managed_account_integrations === 1,
        billing_information_attributes: billingInformationView(records.billing.get(row.id) as BillingInformationRow),
        business_information_attributes: businessInformationView(records.business.get(row.id) as BusinessInformationRow),
      },
    ]),
  );
}
