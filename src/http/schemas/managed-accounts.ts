import { Type, type Static } from '@sinclair/typebox';
import {
  billingInformationInputProperties,
  billingInformationProperties,
  businessInformationInputProperties,
  businessInformationProperties,
} from './billing-profiles.ts';
import { LinksSchema, Nullable } from './common.ts';

/** Capped so no request can build a query with more parameters than a database accepts. */
export const MAX_TOKENS_PER_LIST = 1000;
const tokenList = (description: string) => Nullable(Type.Array(Type.String(), { description, maxItems: MAX_TOKENS_PER_LIST }));

export const ManagedAccountSchema = Type.Object(
  {
    token: Type.String({ description: 'acct_ followed by 16 hex characters.' }),
    name: Type.String(),
    contact_email: Type.String(),
    parent_account_token: Type.String({ description: 'The token for the parent Account.' }),
    access_credential_tokens: Type.Array(Type.String(), {
      description: 'The tokens for the Access Credentials assigned to the Managed Account.',
    }),
    billing_rule_tokens: Type.Array(Type.String(), {
      description: "The tokens for the Billing Rules assigned to the Managed Account, in the order they will execute against this account's cost data.",
    }),
    email_domain: Nullable(Type.String({ description: 'Email domain associated with this Managed Account for SSO.' })),
    // M11: present exactly when the parent has MSP invoicing enabled.
    msp_billing_profile_token: Type.Optional(
      Nullable(Type.String({ description: 'Token of the MSP billing profile used for this managed account (MSP invoicing accounts only)' })),
    ),
    payment_terms_days: Type.Optional(
      Nullable(Type.Integer({ format: 'int32', description: 'Number of days until payment is due after invoice date (MSP invoicing accounts only)' })),
    ),
    include_managed_account_integrations: Type.Optional(
      Nullable(Type.Boolean({ description: "Whether to include managed account's own integrations in invoice cost calculations (MSP invoicing accounts only)" })),
    ),
    billing_information_attributes: Type.Optional(Type.Object(billingInformationProperties, { description: 'BillingInformation (MSP invoicing accounts only)' })),
    business_information_attributes: Type.Optional(Type.Object(businessInformationProperties, { description: 'BusinessInformation (MSP invoicing accounts only)' })),
  },
  { $id: 'ManagedAccount', description: 'ManagedAccount model' },
);

export const ManagedAccountsSchema = Type.Object(
  { links: Type.Ref(LinksSchema), managed_accounts: Type.Array(Type.Ref(ManagedAccountSchema)) },
  { $id: 'ManagedAccounts', description: 'ManagedAccounts model' },
);

const ORDER_NOTE =
  'Tokens must be ordered by execution group: AWS transforms, then COST inserts, then COST transforms, then monthly ' +
  'post-transform inserts. Within a group any order is accepted and persisted as-is; a list whose cross-group ordering ' +
  'does not match the pipeline returns a 400.';

export const CreateManagedAccountBody = Type.Object(
  {
    name: Nullable(Type.String({ description: 'The name of the Managed Account (1–255 characters).' })),
    contact_email: Nullable(Type.String({ description: 'The contact email address for the Managed Account; unique across accounts.' })),
    access_credential_tokens: Type.Optional(tokenList('Access Credential (aka Integrations) tokens of yours to delegate to the Managed Account.')),
    billing_rule_tokens: Type.Optional(
      tokenList(`Billing Rule tokens to assign, in their desired execution order. ${ORDER_NOTE} Existing rules with apply_to_all enabled are added implicitly at the end of their execution group.`),
    ),
    email_domain: Type.Optional(Nullable(Type.String({ description: 'Email domain to associate with this Managed Account for SSO.' }))),
  },
  { description: 'Create a Managed Account.' },
);
export type CreateManagedAccountBody = Static<typeof CreateManagedAccountBody>;

export const UpdateManagedAccountBody = Type.Object(
  {
    name: Type.Optional(Nullable(Type.String({ description: 'The name of the Managed Account.' }))),
    contact_email: Type.Optional(Nullable(Type.String({ description: 'The contact email address for the Managed Account.' }))),
    access_credential_tokens: Type.Optional(tokenList('Replaces the delegated integrations; [] removes all.')),
    billing_rule_tokens: Type.Optional(tokenList(`Replaces the ordered billing rules; [] removes all. ${ORDER_NOTE}`)),
    email_domain: Type.Optional(Nullable(Type.String({ description: 'Email domain to associate with this Managed Account for SSO.' }))),
    // M11: accepted only when the parent has MSP invoicing enabled (otherwise a 400 naming the field).
    msp_billing_profile_token: Type.Optional(
      Nullable(Type.String({ description: 'Token of one of your billing profiles (MSP invoicing accounts only); "" clears it.' })),
    ),
    payment_terms_days: Type.Optional(
      Nullable(
        Type.Integer({
          minimum: 0,
          maximum: 365,
          description: 'Days from invoice date to due date, 0–365 (MSP invoicing accounts only). Defaults to 10.',
        }),
      ),
    ),
    include_managed_account_integrations: Type.Optional(
      Nullable(
        Type.Boolean({
          description: "Whether to include managed account's own integrations in invoice cost calculations (MSP invoicing accounts only). Defaults to false.",
        }),
      ),
    ),
    billing_information_attributes: Type.Optional(
      Nullable(
        Type.Object(
          { id: Type.Optional(Nullable(Type.Integer({ description: 'Accepted and ignored.' }))), ...billingInformationInputProperties },
          { description: 'Billing address and contact information (MSP invoicing accounts only); updated in place, its token stays.' },
        ),
      ),
    ),
    business_information_attributes: Type.Optional(
      Nullable(
        Type.Object(
          { id: Type.Optional(Nullable(Type.Integer({ description: 'Accepted and ignored.' }))), ...businessInformationInputProperties },
          { description: 'Business information and custom fields (MSP invoicing accounts only); updated in place, its token stays.' },
        ),
      ),
    ),
  },
  { description: 'Update a Managed Account. Absent keys keep their stored values.' },
);
export type UpdateManagedAccountBody = Static<typeof UpdateManagedAccountBody>;

export const ManagedAccountParams = Type.Object({
  managed_account_token: Type.String({ description: 'The token of the Managed Account.' }),
});
