import OAuth2Server from '@node-oauth/oauth2-server';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { SCOPES, type Scope } from '../../domain/auth.ts';
import { DomainError, vanishedReference } from '../../domain/errors.ts';
import {
  authenticateClient,
  grantScopes,
  introspectToken,
  revokeIssuedToken,
  saveIssuedToken,
  type AuthenticatedClient,
} from '../../domain/oauth.ts';
import { newApiTokenSecret } from '../../domain/tokens.ts';
import type { Database } from '../../store/schema.ts';
import type { RouteDeps } from './deps.ts';
import { timesSent } from '../headers.ts';

const { Request: OAuthRequest, Response: OAuthResponse, OAuthError, InvalidClientError, InvalidRequestError, InvalidScopeError } = OAuth2Server;

/**
 * A6: the OAuth 2.0 authorization server. `POST /oauth/token` (client credentials grant, RFC 6749 §4.4) is run by
 * @node-oauth/oauth2-server; this module is the glue: Fastify requests in, RFC 6749 §5.2 errors out. Revocation
 * (RFC 7009), introspection (RFC 7662) and metadata (RFC 8414) have no handler in that library and are short.
 * Kept out of the served OpenAPI document (hide): it describes the Vantage API under /v2 only.
 */

const AUTH_METHODS = ['client_secret_basic', 'client_secret_post'];
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The parameters Steward reads, each a string; any other parameter is ignored (RFC 6749 §3.2). */
const PARAMS = ['grant_type', 'scope', 'client_id', 'client_secret', 'token', 'token_type_hint'] as const;
type Params = Partial<Record<(typeof PARAMS)[number], string>>;

const CLIENT_FAILED = 'client authentication failed: unknown client_id, wrong client_secret, or a revoked client';

export const oauthRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db, origin, config }) => {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      done(null, parseForm(body as Buffer));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  app.setErrorHandler(oauthErrorRenderer(config.bodyLimitBytes));
  // RFC 6749 §5.1: token responses must not be cached; the same holds for revocation and introspection answers.
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.method === 'POST') reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    return payload;
  });

  const server = new OAuth2Server({
    // getAccessToken, which the types ask for, serves only the library's authenticate(): auth.ts authenticates /v2.
    model: tokenModel(db) as OAuth2Server.ClientCredentialsModel,
    accessTokenLifetime: config.oauthTokenTtlSeconds,
  });

  app.post('/oauth/token', { schema: { hide: true } }, async (request, reply) => {
    const params = oauthParams(request.body);
    if (!params.grant_type) throw new InvalidRequestError(missingGrantType(request.body));
    const { clientId, clientSecret } = clientCredentials(request, params);
    // The library reads credentials from the body or Basic; they were already taken apart above, so hand them over
    // one way, in a form-encoded request (it accepts nothing else), whatever the client sent.
    const body = { ...params, client_id: clientId, client_secret: clientSecret };
    // (type-is, which the library asks, sees a body only when there is a content-length.)
    const headers = { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '0' };
    const response = new OAuthResponse();
    await server.token(new OAuthRequest({ method: 'POST', query: {}, headers, body }), response);
    return reply.send(response.body);
  });

  app.post('/oauth/revoke', { schema: { hide: true } }, async (request) => {
    const params = oauthParams(request.body);
    const client = await authenticatedClient(db, request, params);
    await revokeIssuedToken(db, client, requiredParam(params, 'token'));
    return {};
  });

  app.post('/oauth/introspect', { schema: { hide: true } }, async (request) => {
    const params = oauthParams(request.body);
    const client = await authenticatedClient(db, request, params);
    return introspectToken(db, client, requiredParam(params, 'token'));
  });

  app.get('/.well-known/oauth-authorization-server', { schema: { hide: true } }, async () => {
    const issuer = origin();
    return {
      issuer,
      token_endpoint: `${issuer}/oauth/token`,
      revocation_endpoint: `${issuer}/oauth/revoke`,
      introspection_endpoint: `${issuer}/oauth/introspect`,
      grant_types_supported: ['client_credentials'],
      // No authorization endpoint: the client credentials grant uses none.
      response_types_supported: [],
      token_endpoint_auth_methods_supported: AUTH_METHODS,
      revocation_endpoint_auth_methods_supported: AUTH_METHODS,
      introspection_endpoint_auth_methods_supported: AUTH_METHODS,
      scopes_supported: [...SCOPES],
    };
  });
};

type Client = OAuth2Server.Client & { steward: AuthenticatedClient };

/** What the library calls during the client credentials grant; each step is a domain rule. */
function tokenModel(db: Kysely<Database>): Omit<OAuth2Server.ClientCredentialsModel, 'getAccessToken'> {
  return {
    getClient: async (clientId: string, clientSecret: string): Promise<Client> => {
      const client = await authenticateClient(db, clientId, clientSecret);
      if (!client) throw new InvalidClientError(CLIENT_FAILED);
      return { id: client.clientId, grants: ['client_credentials'], steward: client };
    },
    // The "user" of a client credentials grant is the client itself, acting for its account.
    getUserFromClient: async (client: Client) => ({ accountToken: client.steward.accountToken }),
    validateScope: async (_user: OAuth2Server.User, client: Client, scope?: string[]) => {
      const granted = grantScopes(client.steward, scope);
      if (!granted) throw new InvalidScopeError(`scope must name only scopes this client has (${client.steward.scopes.join(' ')}), space-separated`);
      return granted;
    },
    generateAccessToken: async () => newApiTokenSecret(),
    // The grant calls this with the scopes validateScope returned and an expiry of now + accessTokenLifetime.
    saveToken: async (token: OAuth2Server.Token, client: Client, user: OAuth2Server.User): Promise<OAuth2Server.Token> => {
      const scopes = token.scope as Scope[];
      const saved = await saveIssuedToken(db, client.steward, { secret: token.accessToken, scopes, expiresAt: token.accessTokenExpiresAt as Date });
      return { accessToken: token.accessToken, accessTokenExpiresAt: saved.expiresAt, scope: scopes, client, user };
    },
  };
}

/** application/x-www-form-urlencoded as UTF-8; a repeated parameter is refused (RFC 6749 §3.2). */
function parseForm(body: Buffer): Record<string, string> {
  let text: string;
  try {
    text = UTF8.decode(body);
  } catch {
    throw new InvalidRequestError('the request body is not valid UTF-8');
  }
  const fields: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(text)) {
    if (Object.hasOwn(fields, name)) throw new InvalidRequestError(`parameter ${name.slice(0, 50)} is repeated; send each parameter once`);
    // Defined, not assigned: a parameter named __proto__ stays a plain (ignored) field.
    Object.defineProperty(fields, name, { value, enumerable: true });
  }
  return fields;
}

/** The parameters of a form or JSON body; only those Steward reads are kept, and each must be a string. */
function oauthParams(body: unknown): Params {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidRequestError('the request body must be form-encoded parameters or a JSON object of them');
  }
  const params: Params = {};
  for (const name of PARAMS) {
    const value: unknown = Object.hasOwn(body, name) ? (body as Record<string, unknown>)[name] : undefined;
    if (value === undefined) continue;
    if (typeof value !== 'string') throw new InvalidRequestError(`${name} must be a string`);
    params[name] = value;
  }
  return params;
}

/** The most common slip: JSON sent without its content type arrives as one form field named after the whole JSON. */
function missingGrantType(body: unknown): string {
  const names = body && typeof body === 'object' ? Object.keys(body) : [];
  const looksLikeJson = names.length === 1 && /^\s*[{[]/.test(names[0] as string);
  return looksLikeJson
    ? 'grant_type is required; the body looks like JSON sent as a form: add Content-Type: application/json'
    : 'grant_type is required (grant_type=client_credentials)';
}

function requiredParam(params: Params, name: 'token'): string {
  const value = params[name];
  if (value === undefined || value === '') throw new InvalidRequestError(`${name} is required`);
  return value;
}

/**
 * RFC 6749 §2.3.1: HTTP Basic (client_secret_basic) or client_id and client_secret in the body
 * (client_secret_post), never both (§2.3). Anything else sent as Authorization is a failed client authentication.
 */
function clientCredentials(request: FastifyRequest, params: Params): { clientId: string; clientSecret: string } {
  if (timesSent(request, 'authorization') > 1) throw new InvalidRequestError('send exactly one Authorization header');
  const header = request.headers.authorization;
  if (header !== undefined) {
    if (params.client_id !== undefined || params.client_secret !== undefined) {
      throw new InvalidRequestError('send the client credentials one way only: HTTP Basic or client_id and client_secret in the body, not both');
    }
    const basic = parseBasic(header);
    if (!basic) throw new InvalidClientError('Authorization must be HTTP Basic with the client_id and client_secret (client_id:client_secret, base64)');
    return basic;
  }
  if (!params.client_id || !params.client_secret) {
    throw new InvalidClientError('client authentication is required: HTTP Basic, or client_id and client_secret in the body');
  }
  return { clientId: params.client_id, clientSecret: params.client_secret };
}

/** `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1, RFC 7617); null when malformed. */
function parseBasic(header: string): { clientId: string; clientSecret: string } | null {
  const match = /^Basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header);
  if (!match) return null;
  let decoded: string;
  try {
    decoded = UTF8.decode(Buffer.from(match[1] as string, 'base64'));
  } catch {
    return null;
  }
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  try {
    const unescape = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    const clientId = unescape(decoded.slice(0, colon));
    const clientSecret = unescape(decoded.slice(colon + 1));
    return clientId && clientSecret ? { clientId, clientSecret } : null;
  } catch {
    return null;
  }
}

async function authenticatedClient(db: Kysely<Database>, request: FastifyRequest, params: Params): Promise<AuthenticatedClient> {
  const { clientId, clientSecret } = clientCredentials(request, params);
  const client = await authenticateClient(db, clientId, clientSecret);
  if (!client) throw new InvalidClientError(CLIENT_FAILED);
  return client;
}

/**
 * RFC 6749 §5.2: `{"error", "error_description"}`, plus Steward's `errors` list (every 4xx has one). invalid_client
 * is 401 with a Basic challenge; the other OAuth errors 400. Failures raised before the handler (body parsing, body
 * size, rate limits) are invalid_request with their own status.
 */
const oauthErrorRenderer = (bodyLimitBytes: number) => (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
  let status: number;
  let code: string;
  let description: string;
  if (error instanceof OAuthError && error.code < 500) {
    code = error.name;
    description = error.message;
    status = code === 'invalid_client' ? 401 : 400;
    // Clients are only ever allowed client_credentials, so the library's unauthorized_client means a grant type
    // (password, authorization_code, refresh_token) this server does not offer at all.
    if (code === 'unauthorized_client' || code === 'unsupported_grant_type') {
      code = 'unsupported_grant_type';
      description = 'grant_type is not supported: the only grant type is client_credentials';
    }
  } else if (error instanceof DomainError && error.status < 500) {
    reply.headers(error.headers);
    [code, description, status] = ['invalid_request', error.messages.join('; '), error.status === 413 || error.status === 429 ? error.status : 400];
  } else if (!(error instanceof OAuthError) && (error.statusCode ?? 500) < 500) {
    const tooLarge = error.code === 'FST_ERR_CTP_BODY_TOO_LARGE';
    description =
      error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
        ? 'send the parameters as application/x-www-form-urlencoded (or application/json)'
        : tooLarge
          ? `request body is too large (maximum is ${bodyLimitBytes} bytes)`
          : error.message;
    [code, status] = ['invalid_request', tooLarge ? 413 : 400];
  } else if (explained(error)?.status === 409) {
    // The client (or its account) was deleted between the secret check and the token's insert.
    [code, description, status] = ['invalid_client', 'the client or its account was deleted while the token was being issued', 401];
  } else if (explained(error)?.status === 503) {
    // RFC 6749 §5.2 has no code for this; temporarily_unavailable is the authorization endpoint's (§4.1.2.1).
    const busy = explained(error) as DomainError;
    reply.headers(busy.headers);
    request.log.warn({ err: (error as { inner?: unknown }).inner ?? error }, 'OAuth request stopped: database busy or unavailable');
    [code, description, status] = ['temporarily_unavailable', busy.messages.join('; '), 503];
  } else {
    request.log.error({ err: (error as { inner?: unknown }).inner ?? error }, 'OAuth request failed');
    [code, description, status] = ['server_error', `Internal server error (request id ${request.id})`, 500];
  }
  if (status === 401) reply.header('www-authenticate', 'Basic realm="steward"');
  return reply.code(status).send({ error: code, error_description: description, errors: [description] });
};

/** The answer the moment explains (a concurrent deletion, a busy database) for an error the OAuth library may have wrapped. */
const explained = (error: unknown) => vanishedReference((error as { inner?: unknown }).inner ?? error);
