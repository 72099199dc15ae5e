import type { Insertable, Kysely } from 'kysely';
import type { AccountRow, AccountsTable, Database } from './schema.ts';
import { prepared } from './prepared.ts';
import { inTransaction, takesRowLocks } from './transaction.ts';

type Db = Kysely<Database>;

/** A row to insert; `is_msp` as a boolean, stored 0/1. */
export type NewAccount = Omit<Insertable<AccountsTable>, 'id' | 'is_msp'> & { is_msp: boolean };

/** Inserts an account together with its default workspace (every account has one, SPEC §7). */
export async function insertAccount(db: Db, values: NewAccount, workspaceToken: string): Promise<AccountRow> {
  const insert = async (trx: Db) => {
    const row = await trx
      .insertInto('accounts')
      .values({ ...values, is_msp: values.is_msp ? 1 : 0 })
      .returningAll()
      .executeTakeFirstOrThrow();
    await trx
      .insertInto('workspaces')
      .values({ token: workspaceToken, account_id: row.id, name: 'Default', created_at: values.created_at })
      .execute();
    return row;
  };
  return inTransaction(db, insert);
}

/** Unscoped lookup for operators (the CLI); the API always goes through the parent-scoped functions. */
export async function findAccountByToken(db: Db, token: string): Promise<AccountRow | undefined> {
  return db.selectFrom('accounts').selectAll().where('token', '=', token).executeTakeFirst();
}

/** Any account by id (the owner an audited cascade acts for). */
export async function findAccountById(db: Db, id: number): Promise<AccountRow | undefined> {
  return db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function countAccounts(db: Db): Promise<number> {
  const row = await db.selectFrom('accounts').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function findFirstMspAccount(db: Db): Promise<AccountRow | undefined> {
  return db.selectFrom('accounts').selectAll().where('is_msp', '=', 1).orderBy('id').limit(1).executeTakeFirst();
}

/**
 * A managed account of this parent. With `lock`, the row stays locked for the rest of the transaction, so
 * concurrent changes to one account (two PUTs, a PUT and a DELETE) run one after the other.
 */
export async function findManagedAccount(
  db: Db,
  parentId: number,
  token: string,
  options: { lock?: boolean } = {},
): Promise<AccountRow | undefined> {
  if (!options.lock || !takesRowLocks(db)) return managedAccountByToken.first(db, parentId, token);
  return db
    .selectFrom('accounts')
    .selectAll()
    .where('parent_id', '=', parentId)
    .where('token', '=', token)
    .$if(Boolean(options.lock) && takesRowLocks(db), (q) => q.forUpdate())
    .executeTakeFirst();
}

/** Every column of accounts, named (a prepared query must not select *, see store/prepared.ts). */
const ACCOUNT_COLUMNS = [
  'id',
  'token',
  'parent_id',
  'name',
  'contact_email',
  'contact_email_key',
  'email_domain',
  'is_msp',
  'created_at',
  'msp_invoicing',
  'msp_billing_profile_id',
  'payment_terms_days',
  'include_managed_account_integrations',
] as const satisfies readonly (keyof AccountRow)[];

const managedAccountByToken = prepared((db: Db, parentId: number, token: string) =>
  db.selectFrom('accounts').select(ACCOUNT_COLUMNS).where('parent_id', '=', parentId).where('token', '=', token),
);

/** Locks every managed account of a parent, in id order so two lockers never deadlock; returns their ids. */
export async function lockManagedAccounts(db: Db, parentId: number): Promise<number[]> {
  const rows = await db
    .selectFrom('accounts')
    .select('id')
    .where('parent_id', '=', parentId)
    .orderBy('id')
    .$if(takesRowLocks(db), (q) => q.forUpdate())
    .execute();
  return rows.map((r) => r.id);
}

/** M7: oldest first; ids only grow, so pages walked during concurrent creates never repeat or skip. */
export async function listManagedAccounts(
  db: Db,
  parentId: number,
  page: { offset: number; limit: number },
): Promise<{ rows: AccountListRow[]; total: number }> {
  const [rows, count] = await Promise.all([managedAccountsPage.all(db, parentId, page.limit, page.offset), managedAccountCount.first(db, parentId)]);
  return { rows, total: Number(count?.n ?? 0) };
}

/** The columns a managed account's view shows: a page reads 100 rows, and every column read costs per row. */
export const ACCOUNT_VIEW_COLUMNS = [
  'id',
  'token',
  'name',
  'contact_email',
  'email_domain',
  'msp_billing_profile_id',
  'payment_terms_days',
  'include_managed_account_integrations',
] as const;
export type AccountListRow = Pick<AccountRow, (typeof ACCOUNT_VIEW_COLUMNS)[number]>;

const managedAccountsPage = prepared((db: Db, parentId: number, limit: number, offset: number) =>
  db.selectFrom('accounts').select(ACCOUNT_VIEW_COLUMNS).where('parent_id', '=', parentId).orderBy('id').limit(limit).offset(offset),
);

const managedAccountCount = prepared((db: Db, parentId: number) =>
  db.selectFrom('accounts').select((eb) => eb.fn.countAll<number | string>().as('n')).where('parent_id', '=', parentId),
);

/** Every managed account of a parent, oldest first. */
export async function listAllManagedAccounts(db: Db, parentId: number): Promise<AccountRow[]> {
  return db.selectFrom('accounts').selectAll().where('parent_id', '=', parentId).orderBy('id').execute();
}

export type AccountPatch = Partial<Pick<AccountRow, 'name' | 'contact_email' | 'contact_email_key' | 'email_domain'>>;

export async function updateManagedAccount(db: Db, parentId: number, accountId: number, patch: AccountPatch): Promise<void> {
  if (Object.keys(patch).length === 0) return;
  await db.updateTable('accounts').set(patch).where('parent_id', '=', parentId).where('id', '=', accountId).execute();
}

/** Deletes a child and, by cascade, its domains, rule assignments and delegations (M9). */
export async function deleteManagedAccount(db: Db, parentId: number, token: string): Promise<boolean> {
  const result = await db.deleteFrom('accounts').where('parent_id', '=', parentId).where('token', '=', token).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

export async function claimDomain(db: Db, accountId: number, domainKey: string, source: 'email_domain' | 'sso'): Promise<void> {
  await db.insertInto('claimed_domains').values({ domain_key: domainKey, account_id: accountId, source }).execute();
}

export async function releaseDomains(db: Db, accountId: number, source: 'email_domain' | 'sso'): Promise<void> {
  await db.deleteFrom('claimed_domains').where('account_id', '=', accountId).where('source', '=', source).execute();
}

/** Billing-rule tokens per managed account, in stored execution order. One query for any number of accounts. */
export async function loadRuleTokens(db: Db, accountIds: number[]): Promise<Map<number, string[]>> {
  const byAccount = new Map<number, string[]>(accountIds.map((id) => [id, []]));
  if (accountIds.length === 0) return byAccount;
  if (accountIds.length === 1) {
    byAccount.set(accountIds[0] as number, (await ruleTokensOfOne.all(db, accountIds[0] as number)).map((r) => r.token));
    return byAccount;
  }
  const rows = await db
    .selectFrom('managed_account_billing_rules as a')
    .innerJoin('billing_rules as r', 'r.id', 'a.billing_rule_id')
    .select(['a.account_id', 'r.token'])
    .where('a.account_id', 'in', accountIds)
    .orderBy('a.account_id')
    .orderBy('a.position')
    .execute();
  for (const row of rows) byAccount.get(row.account_id)?.push(row.token);
  return byAccount;
}

/** Delegated parent integrations per managed account, in the order they were delegated. */
export async function loadDelegatedTokens(db: Db, accountIds: number[]): Promise<Map<number, string[]>> {
  const byAccount = new Map<number, string[]>(accountIds.map((id) => [id, []]));
  if (accountIds.length === 0) return byAccount;
  if (accountIds.length === 1) {
    byAccount.set(accountIds[0] as number, (await delegatedTokensOfOne.all(db, accountIds[0] as number)).map((r) => r.token));
    return byAccount;
  }
  const rows = await db
    .selectFrom('managed_account_integrations as d')
    .innerJoin('integrations as i', 'i.id', 'd.integration_id')
    .select(['d.account_id', 'i.token'])
    .where('d.account_id', 'in', accountIds)
    .orderBy('d.account_id')
    .orderBy('d.id')
    .execute();
  for (const row of rows) byAccount.get(row.account_id)?.push(row.token);
  return byAccount;
}

const ruleTokensOfOne = prepared((db: Db, accountId: number) =>
  db
    .selectFrom('managed_account_billing_rules as a')
    .innerJoin('billing_rules as r', 'r.id', 'a.billing_rule_id')
    .select('r.token')
    .where('a.account_id', '=', accountId)
    .orderBy('a.position'),
);

const delegatedTokensOfOne = prepared((db: Db, accountId: number) =>
  db
    .selectFrom('managed_account_integrations as d')
    .innerJoin('integrations as i', 'i.id', 'd.integration_id')
    .select('i.token')
    .where('d.account_id', '=', accountId)
    .orderBy('d.id'),
);

export async function loadRuleIds(db: Db, accountId: number): Promise<number[]> {
  const rows = await db
    .selectFrom('managed_account_billing_rules')
    .select('billing_rule_id')
    .where('account_id', '=', accountId)
    .orderBy('position')
    .execute();
  return rows.map((r) => r.billing_rule_id);
}

export async function replaceRuleAssignments(db: Db, accountId: number, ruleIds: number[]): Promise<void> {
  await db.deleteFrom('managed_account_billing_rules').where('account_id', '=', accountId).execute();
  if (ruleIds.length === 0) return;
  await db
    .insertInto('managed_account_billing_rules')
    .values(ruleIds.map((billing_rule_id, position) => ({ account_id: accountId, billing_rule_id, position })))
    .execute();
}

/** Keeps delegations that stay (and their order), removes the rest, appends new ones in the order given. */
export async function replaceDelegations(db: Db, accountId: number, integrationIds: number[]): Promise<void> {
  const current = await db
    .selectFrom('managed_account_integrations')
    .select('integration_id')
    .where('account_id', '=', accountId)
    .execute();
  const have = new Set(current.map((r) => r.integration_id));
  const want = new Set(integrationIds);
  const remove = [...have].filter((id) => !want.has(id));
  if (remove.length > 0) {
    await db
      .deleteFrom('managed_account_integrations')
      .where('account_id', '=', accountId)
      .where('integration_id', 'in', remove)
      .execute();
  }
  const add = integrationIds.filter((id) => !have.has(id));
  if (add.length > 0) {
    await db
      .insertInto('managed_account_integrations')
      .values(add.map((integration_id) => ({ account_id: accountId, integration_id })))
      .execute();
  }
}

/** M11: whether an account has MSP invoicing enabled. */
export async function hasMspInvoicing(db: Db, accountId: number): Promise<boolean> {
  const row = await mspInvoicingOf.first(db, accountId);
  return row?.msp_invoicing === 1;
}

const mspInvoicingOf = prepared((db: Db, accountId: number) => db.selectFrom('accounts').select('msp_invoicing').where('id', '=', accountId));

export async function setMspInvoicing(db: Db, accountId: number, enabled: boolean): Promise<AccountRow> {
  return db
    .updateTable('accounts')
    .set({ msp_invoicing: enabled ? 1 : 0 })
    .where('id', '=', accountId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export type InvoicingPatch = Partial<Pick<AccountRow, 'msp_billing_profile_id' | 'payment_terms_days' | 'include_managed_account_integrations'>>;

/** M11: a managed account's invoicing settings. */
export async function updateInvoicingSettings(db: Db, parentId: number, accountId: number, patch: InvoicingPatch): Promise<void> {
  if (Object.keys(patch).length === 0) return;
  await db.updateTable('accounts').set(patch).where('parent_id', '=', parentId).where('id', '=', accountId).execute();
}

/** A managed account for insertAccountsInBulk: the row, its default workspace, its rules (in order) and delegations. */
export interface BulkAccount {
  account: Omit<NewAccount, 'is_msp'>;
  workspaceToken: string;
  ruleIds: number[];
  integrationIds: number[];
}

/**
 * Inserts many managed accounts in one transaction with multi-row INSERTs (for seeding large databases: the
 * benchmark's million accounts). Nothing is checked or audited here: callers pass values already valid.
 */
export async function insertAccountsInBulk(db: Db, items: BulkAccount[]): Promise<void> {
  if (items.length === 0) return;
  await inTransaction(db, async (trx) => {
    // Rows of at most 9 values, 500 accounts (or 5,000 rule or delegation rows) a statement: below SQLite's 32,766
    // and Postgres's 65,535 bound parameters however many rules each account has.
    for (let at = 0; at < items.length; at += 500) {
      const chunk = items.slice(at, at + 500);
      const rows = await trx
        .insertInto('accounts')
        .values(chunk.map((item) => ({ ...item.account, is_msp: 0 })))
        .returning(['id', 'token'])
        .execute();
      const idOf = new Map(rows.map((r) => [r.token, r.id]));
      const ids = chunk.map((item) => idOf.get(item.account.token) as number);
      await trx
        .insertInto('workspaces')
        .values(chunk.map((item, i) => ({ token: item.workspaceToken, account_id: ids[i] as number, name: 'Default', created_at: item.account.created_at })))
        .execute();
      const rules = chunk.flatMap((item, i) => item.ruleIds.map((billing_rule_id, position) => ({ account_id: ids[i] as number, billing_rule_id, position })));
      for (let r = 0; r < rules.length; r += 5000) await trx.insertInto('managed_account_billing_rules').values(rules.slice(r, r + 5000)).execute();
      const delegations = chunk.flatMap((item, i) => item.integrationIds.map((integration_id) => ({ account_id: ids[i] as number, integration_id })));
      for (let d = 0; d < delegations.length; d += 5000) await trx.insertInto('managed_account_integrations').values(delegations.slice(d, d + 5000)).execute();
    }
  });
}
