import { Type, type Static } from '@sinclair/typebox';
import { ACTIONS, CONTRACT_OBJECT_TYPES, OBJECT_TYPES, SOURCES, type AuditEvent } from '../../domain/audit.ts';
import { LinksSchema, Nullable, PaginationQuery } from './common.ts';

/** The contract's AuditLog (SPEC §8): the same fields and required list. */
export const AuditLogSchema = Type.Object(
  {
    token: Type.String({ description: 'The unique token identifying the audit log (adt_lg_ followed by 16 hex characters).' }),
    object_token: Nullable(Type.String({ description: 'The token of the audited object (for an SSO connection or a delegation, its managed account).' })),
    object_type: Type.String({
      description: 'The type of the audited object: ManagedAccount, BillingRule, Integration, BillingProfile, SsoConnection or ManagedAccountIntegration.',
    }),
    object_title: Nullable(Type.String({ description: 'The title of the audited object (name, title, nickname, or provider and account identifier).' })),
    event: Type.Unsafe<AuditEvent>({ type: 'string', enum: Object.values(ACTIONS), description: 'The event type of the audit log.' }),
    source: Type.String({ description: 'The source of the action: api, or cli for the steward command.' }),
    user: Nullable(
      Type.String({ description: 'Who acted: the API token\'s description and id (e.g. "terraform (API token 12)"), the OAuth client, or "steward CLI".' }),
    ),
    workspace_title: Nullable(Type.String({ description: 'The name of the workspace associated with the audit log (always null in Steward).' })),
    workspace_token: Nullable(Type.String({ description: 'The token of the workspace associated with the audit log (always null in Steward).' })),
    created_at: Type.String({ description: 'The date and time, in UTC, the audit log was created. ISO 8601 Formatted.' }),
    changed_values: Type.Object({}, { additionalProperties: true, description: 'The changed values of the object, as {field: [old, new]}.' }),
    unchanged_values: Type.Object({}, { additionalProperties: true, description: 'The unchanged values of the object, as {field: value}.' }),
  },
  { $id: 'AuditLog', description: 'AuditLog model' },
);

export const AuditLogsSchema = Type.Object(
  { links: Type.Ref(LinksSchema), audit_logs: Type.Array(Type.Ref(AuditLogSchema)) },
  { $id: 'AuditLogs', description: 'AuditLogs model' },
);

export const AUDIT_MAX_LIMIT = 5000;

const text = (description: string) => Type.Optional(Type.String({ maxLength: 1000, description }));
const oneOf = <T extends string>(values: readonly T[], description: string) =>
  Type.Optional(Type.Unsafe<T>({ type: 'string', enum: [...values], description }));

/** SPEC §8 filters; each one given narrows the list. */
export const AuditLogsQuery = Type.Object({
  page: PaginationQuery.properties.page,
  limit: Type.Optional(
    Type.Integer({ minimum: 1, description: `The amount of results to return. Defaults to 100. The maximum is ${AUDIT_MAX_LIMIT} (a larger limit is clamped to it).` }),
  ),
  user: Type.Optional(Type.Integer({ minimum: 1, maximum: 2147483647, description: 'Filter by the id of the API token that performed the action.' })),
  workspace_token: text('Filter by workspace token (Steward records no workspace, so this matches nothing).'),
  action: oneOf(Object.keys(ACTIONS) as Array<keyof typeof ACTIONS>, 'Filter by action type.'),
  object_name: text('Filter by object name (the exact object_title).'),
  source: oneOf(SOURCES, 'Filter by source (Steward records api and cli).'),
  object_type: oneOf(
    [...(Object.keys(OBJECT_TYPES) as Array<keyof typeof OBJECT_TYPES>), ...CONTRACT_OBJECT_TYPES],
    "Filter by object type: Steward's managed_account, billing_rule, integration, billing_profile, sso_connection, managed_account_integration (the contract's other values match nothing).",
  ),
  token: text('Filter by audit log token.'),
  object_token: text('Filter by object token.'),
  start_date: text('Filter by start date, inclusive (YYYY-MM-DD, UTC).'),
  end_date: text('Filter by end date, inclusive (YYYY-MM-DD, UTC).'),
});
export type AuditLogsQuery = Static<typeof AuditLogsQuery>;

export const AuditLogParams = Type.Object({
  audit_log_token: Type.String({ description: 'The token of the audit log.' }),
});
