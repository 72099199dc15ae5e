import type { Kysely } from 'kysely';
import { insertIntegration, loadDelegateTokens } from '../store/integrations.store.ts';
import type { Database, IntegrationRow } from '../store/schema.ts';
import { errors } from './errors.ts';
import { newResourceToken, nowIso } from './tokens.ts';
import { checkName } from './validators.ts';

type Db = Kysely<Database>;

export const PROVIDERS = ['aws', 'gcp', 'azure', 'custom_provider'] as const;
export type Provider = (typeof PROVIDERS)[number];

/** SPEC §5.1. Workspaces arrive with /v2/me; until then workspace_tokens is empty. */
export interface IntegrationView {
  token: string;
  provider: string;
  account_identifier: string | null;
  status: string;
  last_updated: string | null;
  workspace_tokens: string[];
  created_at: string;
  managed_account_tokens: string[];
  enriched_by: string[];
}

export async function createIntegration(
  db: Db,
  ownerId: number,
  input: { provider: string; account_identifier: string },
): Promise<IntegrationView> {
  const problems: string[] = [];
  if (!(PROVIDERS as readonly string[]).includes(input.provider)) problems.push(`provider must be one of ${PROVIDERS.join(', ')}`);
  const identifierProblem = checkName('account_identifier', input.account_identifier);
  if (identifierProblem) problems.push(identifierProblem);
  if (problems.length > 0) throw errors.invalid(...problems);
  const created_at = nowIso();
  const row = await insertIntegration(db, ownerId, {
    token: newResourceToken('accss_crdntl'),
    provider: input.provider,
    account_identifier: input.account_identifier,
    status: 'connected',
    created_at,
  });
  return (await integrationViews(db, [row]))[0] as IntegrationView;
}

export async function integrationViews(db: Db, rows: IntegrationRow[]): Promise<IntegrationView[]> {
  const delegated = await loadDelegateTokens(db, rows.map((r) => r.id));
  return rows.map((row) => ({
    token: row.token,
    provider: row.provider,
    account_identifier: row.account_identifier,
    status: row.status,
    last_updated: row.created_at,
    workspace_tokens: [],
    created_at: row.created_at,
    managed_account_tokens: delegated.get(row.id) ?? [],
    enriched_by: [],
  }));
}
