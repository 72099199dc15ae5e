/**
 * The console's only way to the server: the public API with a bearer token, exactly as any script would call it.
 * The token lives in sessionStorage (this tab, until it closes or the user signs out), never in localStorage or a
 * cookie, and is never rendered.
 */
import type {
  GetAuditLogResponse,
  GetBillingProfileResponse,
  GetBillingRuleResponse,
  GetIntegrationResponse,
  GetManagedAccountResponse,
  GetMeResponse,
} from '@vantage-sh/vantage-client';

const TOKEN_KEY = 'steward.console.token';

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  signIn: (token: string): void => sessionStorage.setItem(TOKEN_KEY, token),
  signOut: (): void => sessionStorage.removeItem(TOKEN_KEY),
};

/** A refused or failed request: the status and the API's `errors` (or a description of what went wrong). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly messages: string[],
  ) {
    super(messages.join('; '));
  }
}

/** Called when the server says the token is no longer good (401): the app signs out and asks again. */
let onUnauthorized: (message: string) => void = () => {};
export function setUnauthorizedHandler(handler: (message: string) => void): void {
  onUnauthorized = handler;
}

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** `path` is a path on this origin (`/v2/...`), or an absolute `links` URL, of which only path and query are used. */
export async function api<T = unknown>(method: Method, path: string, body?: unknown, token = session.token()): Promise<T> {
  const target = toLocalPath(path);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    // No cookies or HTTP authentication: the bearer token is the only credential. Without `omit`, a 401 carrying
    // `WWW-Authenticate: Basic` (the OAuth token endpoint's, RFC 6749 §5.2) would make the browser prompt for a password.
    response = await fetch(target, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit' });
  } catch {
    throw new ApiError(0, ['The server could not be reached. Check that Steward is running, then try again.']);
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: described below
  }
  if (response.ok) return parsed as T;
  const messages = messagesOf(parsed) ?? [`The server answered ${response.status} ${response.statusText}`.trim()];
  // Only the session's own token going bad signs out: not a candidate being tried at sign-in, nor a late answer
  // to a request made with a token that has since been replaced.
  if (response.status === 401 && token && token === session.token()) onUnauthorized(messages.join('; '));
  throw new ApiError(response.status, messages);
}

function messagesOf(body: unknown): string[] | null {
  if (!body || typeof body !== 'object') return null;
  const { errors, error_description: description } = body as { errors?: unknown; error_description?: unknown };
  if (Array.isArray(errors) && errors.length > 0) return errors.map(String);
  if (typeof description === 'string') return [description];
  return null;
}

/** Pagination links are absolute URLs from the server's public origin; the console follows them on its own origin. */
export function toLocalPath(pathOrUrl: string): string {
  if (pathOrUrl.startsWith('/')) return pathOrUrl;
  const url = new URL(pathOrUrl);
  return url.pathname + url.search;
}

export interface Links {
  self: string;
  first: string;
  next: string | null;
  prev: string | null;
  last: string;
}

/** Every item of a list, following `links.next` (the console's pickers and its filter need whole lists). */
export async function listAll<T>(path: string, key: string, maxPages = 50): Promise<T[]> {
  const items: T[] = [];
  let next: string | null = path;
  for (let page = 0; next && page < maxPages; page++) {
    const body: Record<string, unknown> & { links: Links } = await api('GET', next);
    items.push(...((body[key] as T[]) ?? []));
    next = body.links.next;
  }
  return items;
}

/** Signs in with OAuth client credentials: the client's secret is sent once to /oauth/token and not kept. */
export async function exchangeClientCredentials(clientId: string, clientSecret: string): Promise<string> {
  const body = await api<{ access_token: string }>(
    'POST',
    '/oauth/token',
    { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret },
    null,
  );
  return body.access_token;
}

/**
 * The resources as Vantage's official TypeScript client types them (the wire format Steward speaks), plus the
 * read-only fields Steward adds. Type-only: nothing of the client is bundled.
 */
export type Me = GetMeResponse;
export type ManagedAccount = GetManagedAccountResponse;
export type BillingInformation = NonNullable<ManagedAccount['billing_information_attributes']>;
export type BillingRule = GetBillingRuleResponse & {
  type: 'exclusion' | 'adjustment' | 'credit' | 'charge' | 'custom';
  /** Steward extension: the execution group (1–4) the rule runs in, and its name. */
  execution_stage: 1 | 2 | 3 | 4;
  execution_stage_name: string;
};
export type Integration = GetIntegrationResponse;
export type BillingProfile = GetBillingProfileResponse;
export type AuditLog = GetAuditLogResponse;
