import { Type } from '@sinclair/typebox';
import { Nullable } from './common.ts';

export const WorkspaceSchema = Type.Object(
  {
    token: Type.String(),
    name: Type.String({ description: 'The name of the Workspace.' }),
    created_at: Type.String({ description: 'The date and time, in UTC, the Workspace was created. ISO 8601 Formatted.' }),
    enable_currency_conversion: Type.Boolean({ description: 'Whether or not currency conversion is enabled for the Workspace.' }),
    currency: Type.String({ description: 'The currency code for the Workspace that will be used for currency conversion.' }),
    exchange_rate_date: Type.String({ description: 'The exchange rate date that will be used to convert currency for your cost data.' }),
  },
  { $id: 'Workspace', description: 'Workspace model' },
);

export const BearerTokenSchema = Type.Object(
  {
    description: Type.String({ description: 'The user supplied description of this BearerToken ("" when none was given).' }),
    created_at: Type.String({ description: 'The date and time, in UTC, the BearerToken was created. ISO 8601 Formatted.' }),
    scope: Type.Array(Type.String(), { description: 'The scopes applied to the BearerToken used to authenticate this request.' }),
  },
  { $id: 'BearerToken' },
);

export const MeSchema = Type.Object(
  {
    default_workspace_token: Nullable(Type.String({ description: "The token of the account's default (oldest) Workspace." })),
    default_dashboard_token: Nullable(Type.String({ description: 'The token of the default Dashboard for the User (always null: Steward has no dashboards).' })),
    workspaces: Type.Array(Type.Ref(WorkspaceSchema)),
    bearer_token: Type.Ref(BearerTokenSchema),
    is_account_owner: Type.Boolean({ description: 'True when the authenticated User or Token has the Owner role on the Account (always true: tokens belong to the account).' }),
  },
  { $id: 'Me', description: 'Me model' },
);
