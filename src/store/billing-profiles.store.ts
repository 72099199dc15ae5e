import type { Kysely, Updateable } from 'kysely';
import type {
  BankingInformationRow,
  BankingInformationsTable,
  BillingInformationRow,
  BillingInformationsTable,
  BillingProfileRow,
  BusinessInformationRow,
  Database,
  InvoiceAdjustmentRow,
} from './schema.ts';
import { takesRowLocks } from './transaction.ts';

type Db = Kysely<Database>;

/** The editable columns of each nested record (its owner and token never change). */
export type BillingInformationPatch = Omit<Updateable<BillingInformationsTable>, 'id' | 'token' | 'billing_profile_id' | 'account_id'>;
export type BankingInformationPatch = Omit<Updateable<BankingInformationsTable>, 'id' | 'token' | 'billing_profile_id'>;

/** Every record a billing profile's representation is made of, keyed by profile id. */
export interface ProfileRecords {
  billing: Map<number, BillingInformationRow>;
  business: Map<number, BusinessInformationRow>;
  banking: Map<number, BankingInformationRow>;
  adjustments: Map<number, InvoiceAdjustmentRow>;
  /** How many managed accounts name each profile. */
  managedAccounts: Map<number, number>;
}

/** M7: oldest first. */
export async function listBillingProfiles(
  db: Db,
  ownerId: number,
  page: { offset: number; limit: number },
): Promise<{ rows: BillingProfileRow[]; total: number }> {
  const [rows, count] = await Promise.all([
    db.selectFrom('billing_profiles').selectAll().where('account_id', '=', ownerId).orderBy('id').limit(page.limit).offset(page.offset).execute(),
    db
      .selectFrom('billing_profiles')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('account_id', '=', ownerId)
      .executeTakeFirstOrThrow(),
  ]);
  return { rows, total: Number(count.n) };
}

/**
 * One of the owner's profiles; another account's reads as absent (A5). On Postgres, `lock: 'update'` holds the row
 * against concurrent change or deletion and `lock: 'share'` keeps it from being deleted while a managed account is
 * pointed at it (SQLite needs neither: every write transaction already holds the database's write lock).
 */
export async function findBillingProfile(
  db: Db,
  ownerId: number,
  token: string,
  options: { lock?: 'update' | 'share' } = {},
): Promise<BillingProfileRow | undefined> {
  const lock = takesRowLocks(db) ? options.lock : undefined;
  return db
    .selectFrom('billing_profiles')
    .selectAll()
    .where('account_id', '=', ownerId)
    .where('token', '=', token)
    .$if(lock === 'update', (q) => q.forUpdate())
    .$if(lock === 'share', (q) => q.forShare())
    .executeTakeFirst();
}

/** Tokens of the owner's profiles by id (for managed accounts' msp_billing_profile_token). */
export async function loadBillingProfileTokens(db: Db, ownerId: number, ids: number[]): Promise<Map<number, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db.selectFrom('billing_profiles').select(['id', 'token']).where('account_id', '=', ownerId).where('id', 'in', ids).execute();
  return new Map(rows.map((r) => [r.id, r.token]));
}

/** A new profile with its always-present records: billing and business information and the invoice adjustment. */
export async function insertBillingProfile(
  db: Db,
  ownerId: number,
  values: { token: string; nickname: string; created_at: string },
  records: {
    billing: BillingInformationPatch & { token: string };
    business: { token: string; custom_fields: string };
    adjustment: { token: string; adjustment_items: string };
  },
): Promise<BillingProfileRow> {
  const row = await db
    .insertInto('billing_profiles')
    .values({ ...values, account_id: ownerId, updated_at: values.created_at })
    .returningAll()
    .executeTakeFirstOrThrow();
  await db.insertInto('billing_informations').values({ ...records.billing, billing_profile_id: row.id, account_id: null }).execute();
  await db.insertInto('business_informations').values({ ...records.business, billing_profile_id: row.id, account_id: null }).execute();
  await db.insertInto('invoice_adjustments').values({ ...records.adjustment, billing_profile_id: row.id }).execute();
  return row;
}

export async function updateBillingProfile(
  db: Db,
  ownerId: number,
  profileId: number,
  patch: { nickname?: string; updated_at: string },
): Promise<void> {
  await db.updateTable('billing_profiles').set(patch).where('account_id', '=', ownerId).where('id', '=', profileId).execute();
}

/** Deletes a profile and, by cascade, its nested records. */
export async function deleteBillingProfile(db: Db, ownerId: number, profileId: number): Promise<void> {
  await db.deleteFrom('billing_profiles').where('account_id', '=', ownerId).where('id', '=', profileId).execute();
}

/** The owner's managed accounts that name this profile, oldest first. */
export async function managedAccountsUsingProfile(db: Db, ownerId: number, profileId: number): Promise<string[]> {
  const rows = await db
    .selectFrom('accounts')
    .select('token')
    .where('parent_id', '=', ownerId)
    .where('msp_billing_profile_id', '=', profileId)
    .orderBy('id')
    .execute();
  return rows.map((r) => r.token);
}

/** Everything the given profiles' representations need, in one query per table. */
export async function loadProfileRecords(db: Db, ownerId: number, profileIds: number[]): Promise<ProfileRecords> {
  const records: ProfileRecords = { billing: new Map(), business: new Map(), banking: new Map(), adjustments: new Map(), managedAccounts: new Map() };
  if (profileIds.length === 0) return records;
  const [billing, business, banking, adjustments, counts] = await Promise.all([
    db.selectFrom('billing_informations').selectAll().where('billing_profile_id', 'in', profileIds).execute(),
    db.selectFrom('business_informations').selectAll().where('billing_profile_id', 'in', profileIds).execute(),
    db.selectFrom('banking_informations').selectAll().where('billing_profile_id', 'in', profileIds).execute(),
    db.selectFrom('invoice_adjustments').selectAll().where('billing_profile_id', 'in', profileIds).execute(),
    db
      .selectFrom('accounts')
      .select((eb) => ['msp_billing_profile_id', eb.fn.countAll<number | string>().as('n')])
      .where('parent_id', '=', ownerId)
      .where('msp_billing_profile_id', 'in', profileIds)
      .groupBy('msp_billing_profile_id')
      .execute(),
  ]);
  for (const r of billing) records.billing.set(r.billing_profile_id as number, r);
  for (const r of business) records.business.set(r.billing_profile_id as number, r);
  for (const r of banking) records.banking.set(r.billing_profile_id, r);
  for (const r of adjustments) records.adjustments.set(r.billing_profile_id, r);
  for (const r of counts) records.managedAccounts.set(r.msp_billing_profile_id as number, Number(r.n));
  return records;
}

export async function updateBillingInformation(db: Db, recordId: number, patch: BillingInformationPatch): Promise<void> {
  if (Object.keys(patch).length === 0) return;
  await db.updateTable('billing_informations').set(patch).where('id', '=', recordId).execute();
}

export async function updateBusinessInformation(db: Db, recordId: number, customFields: string): Promise<void> {
  await db.updateTable('business_informations').set({ custom_fields: customFields }).where('id', '=', recordId).execute();
}

export async function updateInvoiceAdjustment(db: Db, recordId: number, adjustmentItems: string): Promise<void> {
  await db.updateTable('invoice_adjustments').set({ adjustment_items: adjustmentItems }).where('id', '=', recordId).execute();
}

export async function insertBankingInformation(db: Db, profileId: number, token: string, values: BankingInformationPatch): Promise<void> {
  await db.insertInto('banking_informations').values({ bank_name: null, beneficiary_name: null, tax_id: null, secure_data: null, ...values, token, billing_profile_id: profileId }).execute();
}

export async function updateBankingInformation(db: Db, recordId: number, patch: BankingInformationPatch): Promise<void> {
  if (Object.keys(patch).length === 0) return;
  await db.updateTable('banking_informations').set(patch).where('id', '=', recordId).execute();
}

/**
 * A managed account's billing and business information (M11), made on first need. A concurrent maker loses
 * quietly to the unique account_id and both read the same rows back.
 */
export async function ensureAccountRecords(
  db: Db,
  accountIds: number[],
  newToken: { billing: () => string; business: () => string },
): Promise<{ billing: Map<number, BillingInformationRow>; business: Map<number, BusinessInformationRow> }> {
  const load = async () => {
    if (accountIds.length === 0) return { billing: [], business: [] };
    const [billing, business] = await Promise.all([
      db.selectFrom('billing_informations').selectAll().where('account_id', 'in', accountIds).execute(),
      db.selectFrom('business_informations').selectAll().where('account_id', 'in', accountIds).execute(),
    ]);
    return { billing, business };
  };
  let rows = await load();
  const haveBilling = new Set(rows.billing.map((r) => r.account_id));
  const haveBusiness = new Set(rows.business.map((r) => r.account_id));
  const needBilling = accountIds.filter((id) => !haveBilling.has(id));
  const needBusiness = accountIds.filter((id) => !haveBusiness.has(id));
  if (needBilling.length > 0) {
    await db
      .insertInto('billing_informations')
      .values(needBilling.map((account_id) => ({ token: newToken.billing(), account_id, billing_profile_id: null })))
      .onConflict((oc) => oc.column('account_id').doNothing())
      .execute();
  }
  if (needBusiness.length > 0) {
    await db
      .insertInto('business_informations')
      .values(needBusiness.map((account_id) => ({ token: newToken.business(), account_id, billing_profile_id: null })))
      .onConflict((oc) => oc.column('account_id').doNothing())
      .execute();
  }
  if (needBilling.length > 0 || needBusiness.length > 0) rows = await load();
  return {
    billing: new Map(rows.billing.map((r) => [r.account_id as number, r])),
    business: new Map(rows.business.map((r) => [r.account_id as number, r])),
  };
}

/** A managed account's existing records, without making them. */
export async function findAccountRecords(
  db: Db,
  accountId: number,
): Promise<{ billing?: BillingInformationRow; business?: BusinessInformationRow }> {
  const [billing, business] = await Promise.all([
    db.selectFrom('billing_informations').selectAll().where('account_id', '=', accountId).executeTakeFirst(),
    db.selectFrom('business_informations').selectAll().where('account_id', '=', accountId).executeTakeFirst(),
  ]);
  return { billing, business };
}
