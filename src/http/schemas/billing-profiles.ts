import { Type, type Static, type TProperties } from '@sinclair/typebox';
import { LinksSchema, Nullable } from './common.ts';

/** Capped so no request can make an unbounded record. */
export const MAX_NESTED_ITEMS = 100;

const text = (description: string) => Nullable(Type.String({ description }));

// ---- Responses (SPEC §6.1; the contract's component names) ----

/**
 * Shared with ManagedAccount, which embeds these objects inline: ManagedAccount is registered at the root of the app,
 * where the names registered by the billing-profile routes are not visible.
 */
export const billingInformationProperties = {
  token: Type.String({ description: 'blng_inf_ followed by 16 hex characters.' }),
  company_name: text('Company name for billing'),
  country_code: text('ISO 3166-1 alpha-2 country code'),
  address_line_1: text('First line of billing address'),
  address_line_2: text('Second line of billing address'),
  city: text('City for billing address'),
  state: text('State or province for billing address'),
  postal_code: text('Postal or ZIP code'),
  billing_email: Nullable(Type.Array(Type.String(), { description: 'Array of billing email addresses ([] when none).' })),
} satisfies TProperties;

export const businessInformationProperties = {
  token: Type.String({ description: 'biz_inf_ followed by 16 hex characters.' }),
  metadata: Type.Optional(
    Type.Object(
      { custom_fields: Type.Optional(Type.Array(Type.Object({ name: Type.String({ description: 'Custom field name' }), value: text('Custom field value') }), { description: 'Array of custom field objects ([] when none).' })) },
      { description: 'Business metadata including custom fields.' },
    ),
  ),
} satisfies TProperties;

export const BillingInformationSchema = Type.Object(billingInformationProperties, { $id: 'BillingInformation' });
export const BusinessInformationSchema = Type.Object(businessInformationProperties, { $id: 'BusinessInformation' });

export const BankingInformationSecureDataSchema = Type.Object(
  {
    account_number: text('Bank account number (US)'),
    routing_number: text('Bank routing number (US)'),
    iban: text('International Bank Account Number (EU)'),
    swift_bic: text('SWIFT/BIC code (EU)'),
  },
  { $id: 'BankingInformationSecureData', description: 'Returned as stored (encrypted at rest, never masked).' },
);

export const BankingInformationSchema = Type.Object(
  {
    token: Type.String({ description: 'bnk_inf_ followed by 16 hex characters.' }),
    bank_name: text('Name of the bank'),
    beneficiary_name: text('Name of the account beneficiary'),
    tax_id: text('Tax identification number'),
    secure_data: Type.Optional(Type.Ref(BankingInformationSecureDataSchema)),
  },
  { $id: 'BankingInformation' },
);

export const AdjustmentItemSchema = Type.Object(
  {
    name: Type.String({ description: "Name of the adjustment (e.g., 'State Tax', 'Processing Fee')" }),
    adjustment_type: Type.Unsafe<'charge' | 'credit' | 'discount'>({ type: 'string', enum: ['charge', 'credit', 'discount'], description: 'Type of adjustment' }),
    calculation_type: Type.Unsafe<'fixed' | 'percentage'>({ type: 'string', enum: ['fixed', 'percentage'], description: 'How the adjustment is calculated' }),
    amount: Type.String({ description: 'Amount or percentage value, as an exact decimal string (e.g. "7.5").' }),
  },
  { $id: 'AdjustmentItem' },
);

export const InvoiceAdjustmentSchema = Type.Object(
  {
    token: Type.String({ description: 'inv_adj_ followed by 16 hex characters.' }),
    adjustment_items: Type.Array(Type.Ref(AdjustmentItemSchema), { description: 'Array of adjustment items (taxes, fees, etc.)' }),
  },
  { $id: 'InvoiceAdjustment' },
);

export const BillingProfileSchema = Type.Object(
  {
    token: Type.String({ description: 'blng_prfl_ followed by 16 hex characters.' }),
    nickname: Type.String({ description: 'Display name for the billing profile' }),
    created_at: Type.String({ description: 'The date and time, in UTC, the billing profile was created. ISO 8601 formatted.' }),
    updated_at: Type.String({ description: 'The date and time, in UTC, the billing profile was last updated. ISO 8601 formatted.' }),
    billing_information_attributes: Type.Ref(BillingInformationSchema),
    business_information_attributes: Type.Ref(BusinessInformationSchema),
    banking_information_attributes: Type.Optional(Type.Ref(BankingInformationSchema)),
    invoice_adjustment_attributes: Type.Ref(InvoiceAdjustmentSchema),
    managed_accounts_count: Type.String({ description: 'Number of managed accounts using this billing profile, as a string.' }),
  },
  { $id: 'BillingProfile', description: 'BillingProfile model' },
);

export const BillingProfilesSchema = Type.Object(
  { links: Type.Ref(LinksSchema), billing_profiles: Type.Array(Type.Ref(BillingProfileSchema)) },
  { $id: 'BillingProfiles', description: 'BillingProfiles model' },
);


// ---- Requests ----
// Every key is optional and `null` means absent (W3); unknown keys are ignored (W2). Nested `token`s, when sent,
// must be the record's own token.

const recordToken = text("The record's own token; optional (the one record of its kind is updated in place either way).");

/** Shared with updateManagedAccount, which adds Rails' `id`. */
export const billingInformationInputProperties = {
  token: Type.Optional(recordToken),
  company_name: Type.Optional(text('Company name for billing (up to 255 characters).')),
  country_code: Type.Optional(text('ISO 3166-1 alpha-2 country code in capitals, e.g. US.')),
  address_line_1: Type.Optional(text('First line of billing address.')),
  address_line_2: Type.Optional(text('Second line of billing address.')),
  city: Type.Optional(text('City for billing address.')),
  state: Type.Optional(text('State or province for billing address.')),
  postal_code: Type.Optional(text('Postal or ZIP code.')),
  billing_email: Type.Optional(
    Nullable(Type.Array(Type.String(), { maxItems: MAX_NESTED_ITEMS, description: 'Billing email addresses; replaces the list ([] clears it).' })),
  ),
} satisfies TProperties;

export const businessInformationInputProperties = {
  token: Type.Optional(recordToken),
  metadata: Type.Optional(
    Nullable(
      Type.Object(
        {
          custom_fields: Type.Optional(
            Nullable(
              Type.Array(
                Type.Object({
                  name: Type.Optional(Nullable(Type.String({ description: 'Custom field name (required).' }))),
                  value: Type.Optional(Nullable(Type.String({ description: 'Custom field value.' }))),
                }),
                { maxItems: MAX_NESTED_ITEMS, description: 'Custom fields (Tax ID, VAT, PO number…); replaces the list ([] clears it).' },
              ),
            ),
          ),
        },
        { description: 'Business metadata including custom fields.' },
      ),
    ),
  ),
} satisfies TProperties;

const bankingInformationInput = Type.Object(
  {
    token: Type.Optional(recordToken),
    bank_name: Type.Optional(text('Name of the bank.')),
    beneficiary_name: Type.Optional(text('Name of the account beneficiary.')),
    tax_id: Type.Optional(text('Tax identification number.')),
    secure_data: Type.Optional(
      Nullable(
        Type.Object(
          {
            account_number: Type.Optional(text('Bank account number (US).')),
            routing_number: Type.Optional(text('Bank routing number (US).')),
            iban: Type.Optional(text('International Bank Account Number (EU).')),
            swift_bic: Type.Optional(text('SWIFT/BIC code (EU).')),
          },
          { description: 'Encrypted at rest; keys sent replace the stored ones, absent keys keep theirs.' },
        ),
      ),
    ),
  },
  { description: 'Banking details; the record is made the first time this object is sent.' },
);

const invoiceAdjustmentInput = Type.Object(
  {
    token: Type.Optional(recordToken),
    adjustment_items: Type.Optional(
      Nullable(
        Type.Array(
          Type.Object({
            name: Type.Optional(Nullable(Type.String({ description: 'Name of the adjustment (required).' }))),
            adjustment_type: Type.Optional(Nullable(Type.String({ description: 'charge, credit or discount (default charge).' }))),
            calculation_type: Type.Optional(Nullable(Type.String({ description: 'fixed or percentage (required).' }))),
            amount: Type.Optional(Nullable(Type.Number({ description: 'Amount or percentage (required, at least 0; a percentage at most 100).' }))),
          }),
          { maxItems: MAX_NESTED_ITEMS, description: 'Adjustment items; replaces the list ([] clears it).' },
        ),
      ),
    ),
  },
  { description: 'Invoice adjustments (taxes, fees, etc.).' },
);

const profileBodyProperties = (nicknameDescription: string) => ({
  nickname: Type.Optional(Nullable(Type.String({ description: nicknameDescription }))),
  billing_information_attributes: Type.Optional(Nullable(Type.Object(billingInformationInputProperties, { description: 'Billing address and contact information.' }))),
  business_information_attributes: Type.Optional(Nullable(Type.Object(businessInformationInputProperties, { description: 'Business information and custom fields.' }))),
  banking_information_attributes: Type.Optional(Nullable(bankingInformationInput)),
  invoice_adjustment_attributes: Type.Optional(Nullable(invoiceAdjustmentInput)),
});

export const CreateBillingProfileBody = Type.Object(profileBodyProperties('Display name for the billing profile (required, 1–255 characters).'), {
  description: 'Create a billing profile (MSP invoicing required).',
});
export type CreateBillingProfileBody = Static<typeof CreateBillingProfileBody>;

export const UpdateBillingProfileBody = Type.Object(profileBodyProperties('Display name for the billing profile.'), {
  description: 'Update a billing profile (MSP invoicing required). Absent keys keep their stored values.',
});
export type UpdateBillingProfileBody = Static<typeof UpdateBillingProfileBody>;

export const BillingProfileParams = Type.Object({
  billing_profile_token: Type.String({ description: 'The token of the billing profile.' }),
});

/** Every schema the billing-profile routes refer to by name, in dependency order. */
export const billingProfileSchemas = [
  BillingInformationSchema,
  BusinessInformationSchema,
  BankingInformationSecureDataSchema,
  BankingInformationSchema,
  AdjustmentItemSchema,
  InvoiceAdjustmentSchema,
  BillingProfileSchema,
  BillingProfilesSchema,
];
