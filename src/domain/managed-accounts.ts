import type { Kysely } from 'kysely';
import * as accounts from '../store/accounts.store.ts';
import { findBillingRulesByTokens, listApplyToAllRules } from '../store/billing-rules.store.ts';
import { uniqueViolation } from '../store/errors.ts';
import { findIntegrationsByTokens } from '../store/integrations.store.ts';
import type { AccountRow, BillingRuleRow, Database } from '../store/schema.ts';
import { endOfStageIndex, firstStageViolation, STAGE_NAMES, type Stage } from './billing-rule-stages.ts';
import { errors } from './errors.ts';
import { isResourceToken, newResourceToken, nowIso } from './tokens.ts';
import { checkDomain, checkEmail, checkName, emailDomainAscii, emailKey } from './validators.ts';

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
}

/** The wire shape (SPEC §2.2) for accounts of parents without MSP invoicing. */
export interface ManagedAccountView {
  token: string;
  name: string;
  contact_email: string;
  parent_account_token: string;
  access_credential_tokens: string[];
  billing_rule_tokens: string[];
  email_domain: string | null;
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
  input: ManagedAccountInput,
  policy: ManagedAccountPolicy,
): Promise<ManagedAccountView> {
  const problems: string[] = [];
  const name = required(problems, 'name', input.name);
  const email = required(problems, 'contact_email', input.contact_email);
  if (name !== undefined) push(problems, checkName('name', name));
  if (email !== undefined) push(problems, checkContactEmail(email, policy));
  const domainKey = input.email_domain == null ? null : domainKeyOrProblem(problems, input.email_domain);

  return db.transaction().execute(async (trx) => {
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
    return view(trx, parent, row);
  });
}

/** M6: partial; absent (or null) scalars keep their value. The whole change commits or none of it does. */
export async function updateManagedAccount(
  db: Db,
  parent: Parent,
  token: string,
  input: ManagedAccountInput,
  policy: ManagedAccountPolicy,
): Promise<ManagedAccountView> {
  return db.transaction().execute(async (trx) => {
    const row = await findOwn(trx, parent, token, { lock: true });
    if (!row) throw errors.notFound('Managed account');

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
    if (problems.length > 0) throw errors.invalid(...problems);

    await translateUnique(() => accounts.updateManagedAccount(trx, parent.id, row.id, patch));
    if (domainKey) {
      await accounts.releaseDomains(trx, row.id, 'email_domain');
      await translateUnique(() => accounts.claimDomain(trx, row.id, domainKey, 'email_domain'));
    }
    if (rules) await accounts.replaceRuleAssignments(trx, row.id, rules.map((r) => r.id));
    if (integrationIds) await accounts.replaceDelegations(trx, row.id, integrationIds);
    const updated = { ...row, ...patch };
    return view(trx, parent, updated);
  });
}

export async function deleteManagedAccount(db: Db, parent: Parent, token: string): Promise<void> {
  const deleted = isResourceToken('acct', token) && (await accounts.deleteManagedAccount(db, parent.id, token));
  if (!deleted) throw errors.notFound('Managed account');
}

/** A token not shaped like an account token cannot exist, so it never reaches the database. */
async function findOwn(db: Db, parent: Parent, token: string, options: { lock?: boolean } = {}): Promise<AccountRow | undefined> {
  return isResourceToken('acct', token) ? accounts.findManagedAccount(db, parent.id, token, options) : undefined;
}

async function view(db: Db, parent: Parent, row: AccountRow): Promise<ManagedAccountView> {
  return (await views(db, parent, [row]))[0] as ManagedAccountView;
}

async function views(db: Db, parent: Parent, rows: AccountRow[]): Promise<ManagedAccountView[]> {
  const ids = rows.map((r) => r.id);
  const [rules, delegated] = await Promise.all([accounts.loadRuleTokens(db, ids), accounts.loadDelegatedTokens(db, ids)]);
  return rows.map((row) => ({
    token: row.token,
    name: row.name,
    contact_email: row.contact_email ?? '',
    parent_account_token: parent.token,
    access_credential_tokens: delegated.get(row.id) ?? [],
    billing_rule_tokens: rules.get(row.id) ?? [],
    email_domain: row.email_domain,
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
    if (seen.has(token)) problems.push(`${field} lists ${token} more than once`);
    else if (!known.has(token)) problems.push(`${field} contains ${token}, which is not one of your ${field === 'billing_rule_tokens' ? 'billing rules' : 'integrations'}`);
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
