import type { Kysely } from 'kysely';
import { hasMspInvoicing } from '../store/accounts.store.ts';
import * as store from '../store/billing-profiles.store.ts';
import type {
  BankingInformationRow,
  BillingInformationRow,
  BillingProfileRow,
  BusinessInformationRow,
  Database,
  InvoiceAdjustmentRow,
} from '../store/schema.ts';
import { OBJECT_TYPES, recordAudit, type Actor, type AuditEvent } from './audit.ts';
import { inexactMessage, isExactlyRepresentable, isNegativeDecimal, toDecimalString } from './decimal.ts';
import { errors } from './errors.ts';
import type { SecretBox } from './secret-box.ts';
import { isResourceToken, newResourceToken, nowIso } from './tokens.ts';
import { checkEmail, checkName } from './validators.ts';
import { inTransaction } from '../store/transaction.ts';

type Db = Kysely<Database>;

/** SPEC §6.1. Records a billing profile and a managed account (M11) are made of, as sent and as returned. */
export interface BillingInformationView {
  token: string;
  company_name: string | null;
  country_code: string | null;
  address_line_1: string | null;
  address_line_2: string | null;
  city: string | null;
  state: string | null;
  postal_code: string | null;
  billing_email: string[];
}

export interface CustomField {
  name: string;
  value: string | null;
}

export interface BusinessInformationView {
  token: string;
  metadata: { custom_fields: CustomField[] };
}

export interface SecureData {
  account_number: string | null;
  routing_number: string | null;
  iban: string | null;
  swift_bic: string | null;
}

export interface BankingInformationView {
  token: string;
  bank_name: string | null;
  beneficiary_name: string | null;
  tax_id: string | null;
  secure_data?: SecureData;
}

export const ADJUSTMENT_TYPES = ['charge', 'credit', 'discount'] as const;
export const CALCULATION_TYPES = ['fixed', 'percentage'] as const;

export interface AdjustmentItem {
  name: string;
  adjustment_type: (typeof ADJUSTMENT_TYPES)[number];
  calculation_type: (typeof CALCULATION_TYPES)[number];
  /** Exact decimal string (W8). */
  amount: string;
}

export interface InvoiceAdjustmentView {
  token: string;
  adjustment_items: AdjustmentItem[];
}

export interface BillingProfileView {
  token: string;
  nickname: string;
  created_at: string;
  updated_at: string;
  billing_information_attributes: BillingInformationView;
  business_information_attributes: BusinessInformationView;
  banking_information_attributes?: BankingInformationView;
  invoice_adjustment_attributes: InvoiceAdjustmentView;
  /** A string on the wire (SPEC §6.1; Terraform asserts "0"). */
  managed_accounts_count: string;
}

type Maybe<T> = T | null | undefined;

export interface BillingInformationInput {
  token?: Maybe<string>;
  company_name?: Maybe<string>;
  country_code?: Maybe<string>;
  address_line_1?: Maybe<string>;
  address_line_2?: Maybe<string>;
  city?: Maybe<string>;
  state?: Maybe<string>;
  postal_code?: Maybe<string>;
  billing_email?: Maybe<string[]>;
}

export interface BusinessInformationInput {
  token?: Maybe<string>;
  metadata?: Maybe<{ custom_fields?: Maybe<Array<{ name?: Maybe<string>; value?: Maybe<string> }>> }>;
}

export interface BankingInformationInput {
  token?: Maybe<string>;
  bank_name?: Maybe<string>;
  beneficiary_name?: Maybe<string>;
  tax_id?: Maybe<string>;
  secure_data?: Maybe<{ account_number?: Maybe<string>; routing_number?: Maybe<string>; iban?: Maybe<string>; swift_bic?: Maybe<string> }>;
}

export interface InvoiceAdjustmentInput {
  token?: Maybe<string>;
  adjustment_items?: Maybe<Array<{ name?: Maybe<string>; adjustment_type?: Maybe<string>; calculation_type?: Maybe<string>; amount?: Maybe<number> }>>;
}

export interface BillingProfileInput {
  nickname?: Maybe<string>;
  billing_information_attributes?: Maybe<BillingInformationInput>;
  business_information_attributes?: Maybe<BusinessInformationInput>;
  banking_information_attributes?: Maybe<BankingInformationInput>;
  invoice_adjustment_attributes?: Maybe<InvoiceAdjustmentInput>;
}

const profileNotFound = () => errors.notFound('Billing profile');

/** SPEC §11 row 4: without MSP invoicing the billing-profile endpoints answer as they do to non-MSPs. */
export async function requireMspInvoicing(db: Db, accountId: number): Promise<void> {
  if (!(await hasMspInvoicing(db, accountId))) throw errors.notMsp();
}

export async function listBillingProfiles(
  db: Db,
  secrets: SecretBox,
  ownerId: number,
  page: { page: number; limit: number },
): Promise<{ items: BillingProfileView[]; total: number }> {
  const { rows, total } = await store.listBillingProfiles(db, ownerId, { offset: (page.page - 1) * page.limit, limit: page.limit });
  return { items: await views(db, secrets, ownerId, rows), total };
}

export async function getBillingProfile(db: Db, secrets: SecretBox, ownerId: number, token: string): Promise<BillingProfileView> {
  const row = await findOwn(db, ownerId, token);
  if (!row) throw profileNotFound();
  return (await views(db, secrets, ownerId, [row]))[0] as BillingProfileView;
}

export async function createBillingProfile(db: Db, secrets: SecretBox, ownerId: number, actor: Actor, input: BillingProfileInput): Promise<BillingProfileView> {
  const problems: string[] = [];
  if (input.nickname == null) problems.push('nickname is required');
  else push(problems, checkName('nickname', input.nickname));
  const billing = billingInformationPatch(problems, 'billing_information_attributes', input.billing_information_attributes, undefined);
  const customFields = customFieldsJson(problems, 'business_information_attributes', input.business_information_attributes, undefined);
  const adjustmentItems = adjustmentItemsJson(problems, 'invoice_adjustment_attributes', input.invoice_adjustment_attributes, undefined);
  const banking = input.banking_information_attributes == null ? null : bankingInput(problems, input.banking_information_attributes, undefined);
  if (problems.length > 0 || input.nickname == null) throw errors.invalid(...problems);
  const nickname = input.nickname;

  return inTransaction(db, async (trx) => {
    const row = await store.insertBillingProfile(
      trx,
      ownerId,
      { token: newResourceToken('blng_prfl'), nickname, created_at: nowIso() },
      {
        billing: { ...billing, token: newResourceToken('blng_inf') },
        business: { token: newResourceToken('biz_inf'), custom_fields: customFields ?? '[]' },
        adjustment: { token: newResourceToken('inv_adj'), adjustment_items: adjustmentItems ?? '[]' },
      },
    );
    if (banking) {
      const token = newResourceToken('bnk_inf');
      await store.insertBankingInformation(trx, row.id, token, bankingPatch(secrets, token, banking, undefined));
    }
    const created = (await views(trx, secrets, ownerId, [row]))[0] as BillingProfileView;
    await audit(trx, ownerId, actor, 'record_created', null, created);
    return created;
  });
}

/**
 * M6: partial. Each nested object updates its one record in place, keeping its token whether or not the token is
 * sent; arrays (billing_email, custom_fields, adjustment_items) replace. The whole change commits or none of it.
 */
export async function updateBillingProfile(
  db: Db,
  secrets: SecretBox,
  ownerId: number,
  actor: Actor,
  token: string,
  input: BillingProfileInput,
): Promise<BillingProfileView> {
  return inTransaction(db, async (trx) => {
    const row = await findOwn(trx, ownerId, token, 'update');
    if (!row) throw profileNotFound();
    const records = await store.loadProfileRecords(trx, ownerId, [row.id]);
    const billingRow = records.billing.get(row.id) as BillingInformationRow;
    const businessRow = records.business.get(row.id) as BusinessInformationRow;
    const adjustmentRow = records.adjustments.get(row.id) as InvoiceAdjustmentRow;
    const bankingRow = records.banking.get(row.id);
    const before = (await views(trx, secrets, ownerId, [row]))[0] as BillingProfileView;

    const problems: string[] = [];
    if (input.nickname != null) push(problems, checkName('nickname', input.nickname));
    const billing = billingInformationPatch(problems, 'billing_information_attributes', input.billing_information_attributes, billingRow.token);
    const customFields = customFieldsJson(problems, 'business_information_attributes', input.business_information_attributes, businessRow.token);
    const adjustmentItems = adjustmentItemsJson(problems, 'invoice_adjustment_attributes', input.invoice_adjustment_attributes, adjustmentRow.token);
    const banking = input.banking_information_attributes == null ? null : bankingInput(problems, input.banking_information_attributes, bankingRow?.token);
    if (problems.length > 0) throw errors.invalid(...problems);

    const updatedAt = nowIso();
    await store.updateBillingProfile(trx, ownerId, row.id, { ...(input.nickname != null ? { nickname: input.nickname } : {}), updated_at: updatedAt });
    await store.updateBillingInformation(trx, billingRow.id, billing);
    if (customFields !== undefined) await store.updateBusinessInformation(trx, businessRow.id, customFields);
    if (adjustmentItems !== undefined) await store.updateInvoiceAdjustment(trx, adjustmentRow.id, adjustmentItems);
    if (banking && bankingRow) {
      await store.updateBankingInformation(trx, bankingRow.id, bankingPatch(secrets, bankingRow.token, banking, bankingRow.secure_data));
    } else if (banking) {
      const bankingToken = newResourceToken('bnk_inf');
      await store.insertBankingInformation(trx, row.id, bankingToken, bankingPatch(secrets, bankingToken, banking, undefined));
    }
    const updated = { ...row, nickname: input.nickname ?? row.nickname, updated_at: updatedAt };
    const after = (await views(trx, secrets, ownerId, [updated]))[0] as BillingProfileView;
    await audit(trx, ownerId, actor, 'record_updated', before, after);
    return after;
  });
}

/** M9: a profile a managed account still names cannot be deleted (400 naming the accounts); otherwise 204, then 404. */
export async function deleteBillingProfile(db: Db, secrets: SecretBox, ownerId: number, actor: Actor, token: string): Promise<void> {
  await inTransaction(db, async (trx) => {
    const row = await findOwn(trx, ownerId, token, 'update');
    if (!row) throw profileNotFound();
    const users = await store.managedAccountsUsingProfile(trx, ownerId, row.id);
    if (users.length > 0) {
      const shown = users.slice(0, 10).join(', ') + (users.length > 10 ? ` and ${users.length - 10} more` : '');
      throw errors.invalid(
        `billing profile ${row.token} is still the msp_billing_profile_token of managed account${users.length > 1 ? 's' : ''} ${shown}; ` +
          'give them another billing profile (or "") first',
      );
    }
    const before = (await views(trx, secrets, ownerId, [row]))[0] as BillingProfileView;
    await store.deleteBillingProfile(trx, ownerId, row.id);
    await audit(trx, ownerId, actor, 'record_destroyed', before, null);
  });
}

/** One audit record for a billing profile, titled with its nickname; banking secure_data is FILTERED by recordAudit. */
async function audit(
  trx: Db,
  ownerId: number,
  actor: Actor,
  event: AuditEvent,
  before: BillingProfileView | null,
  after: BillingProfileView | null,
): Promise<void> {
  const subject = (after ?? before) as BillingProfileView;
  await recordAudit(trx, ownerId, actor, { objectType: OBJECT_TYPES.billing_profile, objectToken: subject.token, objectTitle: subject.nickname, event, before, after });
}

/** A token not shaped like a billing-profile token cannot exist, so it never reaches the database. */
async function findOwn(db: Db, ownerId: number, token: string, lock?: 'update' | 'share'): Promise<BillingProfileRow | undefined> {
  return isResourceToken('blng_prfl', token) ? store.findBillingProfile(db, ownerId, token, { lock }) : undefined;
}

async function views(db: Db, secrets: SecretBox, ownerId: number, rows: BillingProfileRow[]): Promise<BillingProfileView[]> {
  const records = await store.loadProfileRecords(db, ownerId, rows.map((r) => r.id));
  return rows.map((row) => {
    const banking = records.banking.get(row.id);
    return {
      token: row.token,
      nickname: row.nickname,
      created_at: row.created_at,
      updated_at: row.updated_at,
      billing_information_attributes: billingInformationView(records.billing.get(row.id) as BillingInformationRow),
      business_information_attributes: businessInformationView(records.business.get(row.id) as BusinessInformationRow),
      ...(banking ? { banking_information_attributes: bankingInformationView(secrets, banking) } : {}),
      invoice_adjustment_attributes: invoiceAdjustmentView(records.adjustments.get(row.id) as InvoiceAdjustmentRow),
      managed_accounts_count: String(records.managedAccounts.get(row.id) ?? 0),
    };
  });
}

export function billingInformationView(row: BillingInformationRow): BillingInformationView {
  return {
    token: row.token,
    company_name: row.company_name,
    country_code: row.country_code,
    address_line_1: row.address_line_1,
    address_line_2: row.address_line_2,
    city: row.city,
    state: row.state,
    postal_code: row.postal_code,
    billing_email: JSON.parse(row.billing_email) as string[],
  };
}

export function businessInformationView(row: BusinessInformationRow): BusinessInformationView {
  return { token: row.token, metadata: { custom_fields: JSON.parse(row.custom_fields) as CustomField[] } };
}

function invoiceAdjustmentView(row: InvoiceAdjustmentRow): InvoiceAdjustmentView {
  return { token: row.token, adjustment_items: JSON.parse(row.adjustment_items) as AdjustmentItem[] };
}

/** Secure data is returned as stored, unmasked: Terraform copies it into state and errors when it differs (SPEC §6.1). */
function bankingInformationView(secrets: SecretBox, row: BankingInformationRow): BankingInformationView {
  return {
    token: row.token,
    bank_name: row.bank_name,
    beneficiary_name: row.beneficiary_name,
    tax_id: row.tax_id,
    ...(row.secure_data === null ? {} : { secure_data: secrets.openJson<SecureData>(securePurpose(row.token), row.secure_data) }),
  };
}

/** Binds each ciphertext to its record, so a value copied to another row does not decrypt. */
const securePurpose = (bankingToken: string) => `banking_informations.secure_data:${bankingToken}`;

const TEXT_FIELDS = ['company_name', 'address_line_1', 'address_line_2', 'city', 'state', 'postal_code'] as const;
const SECURE_FIELDS = ['account_number', 'routing_number', 'iban', 'swift_bic'] as const;
const COUNTRY_CODE = /^[A-Z]{2}$/;

/**
 * Adds a problem when the request names a nested record other than the one it would change. `existing` is the
 * record's token, or undefined when there is no record yet (then no token can be right).
 */
function checkRecordToken(problems: string[], field: string, sent: Maybe<string>, existing: string | undefined): void {
  if (sent == null || sent === existing) return;
  problems.push(
    existing === undefined
      ? `${field}.token must be left out: there is no such record yet (it is made with this request)`
      : `${field}.token must be ${existing} (this record's own token) or left out`,
  );
}

/** Free text: may be "", otherwise as names (M1) up to `max` characters. */
function checkText(problems: string[], field: string, value: string, max = 255): void {
  if (value !== '') push(problems, checkName(field, value, max));
}

/** Validates billing information and returns the columns to write (absent and null keys keep their value, M6). */
export function billingInformationPatch(
  problems: string[],
  field: string,
  input: Maybe<BillingInformationInput>,
  existingToken: string | undefined,
): store.BillingInformationPatch {
  const patch: store.BillingInformationPatch = {};
  if (input == null) return patch;
  checkRecordToken(problems, field, input.token, existingToken);
  for (const key of TEXT_FIELDS) {
    const value = input[key];
    if (value == null) continue;
    checkText(problems, `${field}.${key}`, value);
    patch[key] = value;
  }
  if (input.country_code != null) {
    if (COUNTRY_CODE.test(input.country_code)) patch.country_code = input.country_code;
    else problems.push(`${field}.country_code must be an ISO 3166-1 alpha-2 code in capitals, such as US or GB`);
  }
  if (input.billing_email != null) {
    input.billing_email.forEach((email, i) => push(problems, checkEmail(`${field}.billing_email[${i}]`, email)));
    patch.billing_email = JSON.stringify(input.billing_email);
  }
  return patch;
}

/** The replacement custom_fields as stored JSON, or undefined to keep them. */
export function customFieldsJson(problems: string[], field: string, input: Maybe<BusinessInformationInput>, existingToken: string | undefined): string | undefined {
  if (input == null) return undefined;
  checkRecordToken(problems, field, input.token, existingToken);
  const fields = input.metadata?.custom_fields;
  if (fields == null) return undefined;
  const stored: CustomField[] = fields.map((f, i) => {
    const at = `${field}.metadata.custom_fields[${i}]`;
    if (f.name == null) problems.push(`${at}.name is required`);
    else push(problems, checkName(`${at}.name`, f.name));
    if (f.value != null) checkText(problems, `${at}.value`, f.value, 1000);
    return { name: f.name ?? '', value: f.value ?? null };
  });
  return JSON.stringify(stored);
}

/** The replacement adjustment_items as stored JSON (amounts as exact decimal strings, W8), or undefined to keep them. */
function adjustmentItemsJson(problems: string[], field: string, input: Maybe<InvoiceAdjustmentInput>, existingToken: string | undefined): string | undefined {
  if (input == null) return undefined;
  checkRecordToken(problems, field, input.token, existingToken);
  if (input.adjustment_items == null) return undefined;
  const items = input.adjustment_items.map((item, i): AdjustmentItem => {
    const at = `${field}.adjustment_items[${i}]`;
    if (item.name == null) problems.push(`${at}.name is required`);
    else push(problems, checkName(`${at}.name`, item.name));
    const adjustmentType = item.adjustment_type ?? 'charge';
    if (!(ADJUSTMENT_TYPES as readonly string[]).includes(adjustmentType)) problems.push(`${at}.adjustment_type must be one of ${ADJUSTMENT_TYPES.join(', ')}`);
    if (item.calculation_type == null) problems.push(`${at}.calculation_type is required (one of ${CALCULATION_TYPES.join(', ')})`);
    else if (!(CALCULATION_TYPES as readonly string[]).includes(item.calculation_type)) problems.push(`${at}.calculation_type must be one of ${CALCULATION_TYPES.join(', ')}`);
    let amount: string | null = null;
    if (item.amount == null) problems.push(`${at}.amount is required`);
    else if (!isExactlyRepresentable(item.amount)) problems.push(inexactMessage(`${at}.amount`));
    else {
      amount = toDecimalString(item.amount);
      if (amount === null || isNegativeDecimal(amount)) problems.push(`${at}.amount must be a number of at least 0 (adjustment_type says whether it adds or takes away)`);
      else if (item.calculation_type === 'percentage' && item.amount > 100) problems.push(`${at}.amount is a percentage and must be at most 100`);
    }
    return {
      name: item.name ?? '',
      adjustment_type: adjustmentType as AdjustmentItem['adjustment_type'],
      calculation_type: (item.calculation_type ?? 'fixed') as AdjustmentItem['calculation_type'],
      amount: amount ?? '0.0',
    };
  });
  return JSON.stringify(items);
}

interface CheckedBanking {
  columns: Omit<store.BankingInformationPatch, 'secure_data'>;
  /** Secure-data keys to set; undefined when secure_data was not sent. */
  secure?: Partial<SecureData>;
}

function bankingInput(problems: string[], input: BankingInformationInput, existingToken: string | undefined): CheckedBanking {
  const field = 'banking_information_attributes';
  checkRecordToken(problems, field, input.token, existingToken);
  const columns: CheckedBanking['columns'] = {};
  for (const key of ['bank_name', 'beneficiary_name', 'tax_id'] as const) {
    const value = input[key];
    if (value == null) continue;
    checkText(problems, `${field}.${key}`, value);
    columns[key] = value;
  }
  if (input.secure_data == null) return { columns };
  const secure: Partial<SecureData> = {};
  for (const key of SECURE_FIELDS) {
    const value = input.secure_data[key];
    if (value == null) continue;
    checkText(problems, `${field}.secure_data.${key}`, value, 100);
    secure[key] = value;
  }
  return { columns, secure };
}

/** Columns to write, with secure data merged into what is stored (absent keys keep their value) and sealed. */
function bankingPatch(secrets: SecretBox, token: string, checked: CheckedBanking, storedSealed: string | null | undefined): store.BankingInformationPatch {
  if (!checked.secure) return checked.columns;
  const empty: SecureData = { account_number: null, routing_number: null, iban: null, swift_bic: null };
  const current = storedSealed ? secrets.openJson<SecureData>(securePurpose(token), storedSealed) : empty;
  return { ...checked.columns, secure_data: secrets.sealJson(securePurpose(token), { ...empty, ...current, ...checked.secure }) };
}

/** Adds a non-null message to problems; returns true when the check passed. */
function push(problems: string[], message: string | null): boolean {
  if (message) problems.push(message);
  return message === null;
}
