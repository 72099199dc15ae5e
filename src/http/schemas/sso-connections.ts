import { Type, type Static } from '@sinclair/typebox';
import { MAX_ADDITIONAL_DOMAINS, MAX_METADATA_URL_LENGTH } from '../../domain/sso-connections.ts';
import { Nullable } from './common.ts';

/**
 * Request bodies are inline, as for managed accounts: a schema added with app.addSchema inside a route plugin makes
 * Fastify validate that plugin's routes with its default Ajv (type coercion on), not src/http/validation.ts.
 */

const metadataUrl = (description: string) =>
  Nullable(Type.String({ description, maxLength: MAX_METADATA_URL_LENGTH }));
const domains = (description: string) =>
  Nullable(Type.Array(Type.String(), { description, maxItems: MAX_ADDITIONAL_DOMAINS }));

export const CreateSsoConnectionBody = Type.Object(
  {
    type: Type.Unsafe<'saml'>({ type: 'string', enum: ['saml'], description: 'The type of SSO connection. Currently supported: saml.' }),
    saml_metadata_url: Type.Optional(
      metadataUrl('The SAML metadata URL for the identity provider (absolute https://). Required when type is saml. Stored, never fetched.'),
    ),
    additional_domains: Type.Optional(
      domains(
        "Additional email domains to associate with this SSO configuration. The account's SSO domain is always included. " +
          'Each is unique across all accounts (email domains and SSO domains), compared case-insensitively.',
      ),
    ),
  },
  { description: 'Configure SSO for a Managed Account.' },
);
export type CreateSsoConnectionBody = Static<typeof CreateSsoConnectionBody>;

export const UpdateSsoConnectionBody = Type.Object(
  {
    // Not in Vantage's update schema; accepted only as `saml`, so a PUT never appears to switch the type.
    type: Type.Optional(Type.Unsafe<'saml'>({ type: 'string', enum: ['saml'], description: 'Optional: only saml exists, so the type cannot change.' })),
    saml_metadata_url: Type.Optional(metadataUrl('The SAML metadata URL for the identity provider (absolute https://).')),
    additional_domains: Type.Optional(
      domains(
        "Additional email domains to associate with this SSO configuration. Replaces existing additional domains ([] removes all). The account's SSO domain is always preserved.",
      ),
    ),
  },
  { description: 'Update SSO configuration for a Managed Account.' },
);
export type UpdateSsoConnectionBody = Static<typeof UpdateSsoConnectionBody>;
