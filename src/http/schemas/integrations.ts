import { Type, type Static } from '@sinclair/typebox';
import { INTEGRATION_STATUSES, PROVIDER_KEYS, type IntegrationStatus } from '../../domain/integrations.ts';
import { LinksSchema, Nullable, PaginationQuery } from './common.ts';
import { MAX_TOKENS_PER_LIST } from './managed-accounts.ts';

export const IntegrationSchema = Type.Object(
  {
    token: Type.String({ description: 'accss_crdntl_ followed by 16 hex characters.' }),
    provider: Type.String({ description: 'The lowercase provider key, e.g. aws, gcp, azure, azure_csp, custom_provider.' }),
    account_identifier: Nullable(
      Type.String({ description: 'AWS account id, GCP billing account id, Azure tenant, or the custom provider name.' }),
    ),
    status: Type.Unsafe<IntegrationStatus>({
      type: 'string',
      enum: [...INTEGRATION_STATUSES],
      description: 'pending: Steward has recorded the credential but never checks it; connected: a custom provider, which has none.',
    }),
    last_updated: Nullable(Type.String({ description: 'When the Integration was last changed through the API (UTC); null until then.' })),
    workspace_tokens: Type.Array(Type.String(), { description: "The owner's Workspaces the Integration feeds, oldest first." }),
    created_at: Type.String({ description: 'The date and time, in UTC, the Integration was created. ISO 8601 Formatted.' }),
    managed_account_tokens: Type.Array(Type.String(), { description: 'The Managed Accounts the Integration is delegated to.' }),
    enriched_by: Type.Array(Type.String(), { description: 'Tokens of the data integrations that enrich this one; always [] in Steward.' }),
  },
  { $id: 'Integration', description: 'Integration model' },
);

export const IntegrationsSchema = Type.Object(
  { links: Type.Ref(LinksSchema), integrations: Type.Array(Type.Ref(IntegrationSchema)) },
  { $id: 'Integrations', description: 'Integrations model' },
);

export const ManagedAccountIntegrationSchema = Type.Object(
  {
    access_credential_token: Type.String({ description: 'The token of the parent Access Credential delegated to this Managed Account.' }),
    provider: Type.String({ description: 'The key of the Provider for the delegated Integration.' }),
    provider_account_identifiers: Type.Array(Type.String(), {
      description: 'The provider account identifiers this delegation imports (Azure subscription ids for azure_csp); [] means no filter.',
    }),
  },
  { $id: 'ManagedAccountIntegration', description: 'ManagedAccountIntegration model' },
);

export const IntegrationsQuery = Type.Object({
  ...PaginationQuery.properties,
  provider: Type.Optional(
    Type.Unsafe<(typeof PROVIDER_KEYS)[number]>({
      type: 'string',
      enum: [...PROVIDER_KEYS],
      description: 'Query by provider name to list all Integrations for a specific provider.',
    }),
  ),
  account_identifier: Type.Optional(
    Type.String({
      minLength: 1,
      description: 'Only Integrations with exactly this account identifier. Must include provider when using this parameter.',
    }),
  ),
});
export type IntegrationsQuery = Static<typeof IntegrationsQuery>;

export const IntegrationParams = Type.Object({
  integration_token: Type.String({ description: 'The token of the Integration.' }),
});

export const ManagedAccountIntegrationParams = Type.Object({
  managed_account_token: Type.String({ description: 'The token of the Managed Account.' }),
  access_credential_token: Type.String({ description: 'The token of the parent Access Credential delegated to it.' }),
});

const text = (description: string) => Nullable(Type.String({ description }));

export const CreateCustomProviderIntegrationBody = Type.Object(
  {
    name: text('Name of the Custom Provider Integration (1–255 characters); shown as account_identifier.'),
    description: Type.Optional(text('Description of the Custom Provider Integration (up to 1000 characters).')),
  },
  { description: 'Create a Custom Provider Integration' },
);
export type CreateCustomProviderIntegrationBody = Static<typeof CreateCustomProviderIntegrationBody>;

export const CreateGcpIntegrationBody = Type.Object(
  {
    billing_account_id: text('GCP billing account ID; shown as account_identifier.'),
    project_id: text('GCP project ID.'),
    dataset_name: text('BigQuery dataset name.'),
  },
  { description: 'Create a GCP Integration' },
);
export type CreateGcpIntegrationBody = Static<typeof CreateGcpIntegrationBody>;

export const CreateAzureIntegrationBody = Type.Object(
  {
    tenant: text('Azure AD Tenant ID; shown as account_identifier.'),
    app_id: text('Service Principal Application ID.'),
    password: text('Service Principal Password. Encrypted at rest; never returned.'),
  },
  { description: 'Create an Azure Integration' },
);
export type CreateAzureIntegrationBody = Static<typeof CreateAzureIntegrationBody>;

export const UpdateIntegrationBody = Type.Object(
  {
    workspace_tokens: Type.Optional(
      Nullable(
        Type.Array(Type.String(), {
          maxItems: MAX_TOKENS_PER_LIST,
          description: 'Replaces the Workspaces (of your account) the Integration feeds; [] removes all.',
        }),
      ),
    ),
  },
  { description: 'Update an Integration. Only workspace_tokens can change.' },
);
export type UpdateIntegrationBody = Static<typeof UpdateIntegrationBody>;

export const UpdateManagedAccountIntegrationBody = Type.Object(
  {
    provider_account_identifiers: Type.Array(Type.String(), {
      maxItems: MAX_TOKENS_PER_LIST,
      description:
        'Replaces the provider account identifiers the delegation imports; [] applies no filter. Non-empty only for azure_csp (Azure subscription ids).',
    }),
  },
  { description: 'Update a delegated Integration on a Managed Account.' },
);
export type UpdateManagedAccountIntegrationBody = Static<typeof UpdateManagedAccountIntegrationBody>;
