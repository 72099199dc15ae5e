import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { AddressInfo } from 'node:net';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { publicOrigin, secretBoxFor, type Config } from './config.ts';
import { errors } from './domain/errors.ts';
import { registerAuth } from './http/auth.ts';
import { isConsoleRoute, registerConsole } from './http/console.ts';
import { errorBody, registerErrorHandling } from './http/error-handler.ts';
import { EARLY_RESPONSE_HEADERS, registerHardening, registerRequestTargetChecks } from './http/hardening.ts';
import { parseJsonBody } from './http/json-body.ts';
import { registerIdempotency } from './http/idempotency.ts';
import { registerOperations, type Lifecycle } from './http/operations.ts';
import { registerRateLimit } from './http/rate-limit.ts';
import { auditLogRoutes } from './http/routes/audit-logs.ts';
import { oauthRoutes } from './http/routes/oauth.ts';
import { billingProfileRoutes } from './http/routes/billing-profiles.ts';
import { billingRuleRoutes } from './http/routes/billing-rules.ts';
import type { RouteDeps } from './http/routes/deps.ts';
import { integrationRoutes } from './http/routes/integrations.ts';
import { managedAccountRoutes } from './http/routes/managed-accounts.ts';
import { meRoutes } from './http/routes/me.ts';
import { ssoConnectionRoutes } from './http/routes/sso-connections.ts';
import { metaRoutes } from './http/routes/meta.ts';
import { ErrorsSchema, LinksSchema } from './http/schemas/common.ts';
import type { SecretBox } from './domain/secret-box.ts';
import { ManagedAccountSchema, ManagedAccountsSchema } from './http/schemas/managed-accounts.ts';
import { validatorCompiler } from './http/validation.ts';
import type { Store } from './store/database.ts';

export interface AppDeps {
  config: Config;
  store: Store;
  /** Defaults to the box configured by `config` (see secretBoxFor). */
  secrets?: SecretBox;
  /** Set by src/server.ts on SIGTERM; a fresh one (not draining) by default. */
  lifecycle?: Lifecycle;
  /** Export Node's process metrics on /metrics (src/server.ts turns it on; tests build many apps in one process). */
  processMetrics?: boolean;
}

/** Builds the HTTP app on an opened, migrated store. Never listens: src/server.ts and tests do that. */
export async function buildApp({ config, store, secrets = secretBoxFor(config), lifecycle = { draining: false }, processMetrics = false }: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger:
      config.logLevel === 'silent'
        ? false
        : { level: config.logLevel, redact: ['req.headers.authorization', 'req.headers.cookie'] },
    bodyLimit: config.bodyLimitBytes,
    genReqId: () => randomUUID(),
    // Graceful shutdown (src/server.ts): a request that arrives on an open connection while the server drains is
    // still answered, not refused with a 503; each answer then closes its connection.
    return503OnClosing: false,
    routerOptions: { ignoreTrailingSlash: true },
    // Our validator in every plugin: a plugin that calls addSchema otherwise gets Fastify's default Ajv, which
    // coerces types (`5` → "5", `null` → [null]).
    schemaController: { compilersFactory: { buildValidator: () => validatorCompiler as never } },
    // Errors the router raises before any hook runs (a malformed or over-long URL) get the same shape as the rest.
    frameworkErrors: (error, request, reply) => {
      const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
      const message = tooLong ? 'a path parameter is too long (maximum is 100 characters)' : 'the request URL is malformed: its path must be percent-encoded UTF-8';
      void (reply as FastifyReply)
        .code(tooLong ? 414 : 400)
        .headers(EARLY_RESPONSE_HEADERS)
        .header('x-request-id', request.id)
        .send(errorBody(request.url, [message]));
    },
    // Requests Node's HTTP parser rejects (oversized headers, malformed framing) never reach a hook: answer them
    // in the same shape, on the raw socket.
    clientErrorHandler: (error: Error & { code?: string }, socket) => {
      if (!socket.writable) return;
      const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      const message =
        status === 431 ? 'request headers are too large' : status === 408 ? 'request timed out' : 'the request is not well-formed HTTP';
      const body = JSON.stringify({ errors: [message] });
      const security = Object.entries(EARLY_RESPONSE_HEADERS).map(([name, value]) => `${name}: ${value}\r\n`).join('');
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n${security}` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nx-request-id: ${randomUUID()}\r\nConnection: close\r\n\r\n${body}`,
      );
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);

  // W4: JSON only, checked by parseJsonBody (UTF-8, depth, prototype keys, NUL, lone surrogates). An empty body (a
  // DELETE from the Go client) is no body.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer));
    } catch (e) {
      done(e as Error, undefined);
    }
  });

  // The latest request received on each connection. HTTP/1.1 clients may pipeline several requests on one
  // connection; Node answers them in order, so while draining only the answer to the latest may close it: closing
  // on an earlier one would drop answers to requests that have already run.
  const latestOnConnection = new WeakMap<object, FastifyRequest>();

  // W6: every response carries its request id and a JSON content type.
  app.addHook('onRequest', async (request, reply) => {
    latestOnConnection.set(request.raw.socket, request);
    reply.header('x-request-id', request.id);
  });
  app.addHook('onSend', async (request, reply, payload) => {
    if (!reply.hasHeader('content-type')) reply.header('content-type', 'application/json; charset=utf-8');
    if (lifecycle.draining) {
      if (latestOnConnection.get(request.raw.socket) === request) {
        reply.header('connection', 'close');
      } else {
        reply.removeHeader('connection');
        reply.raw.removeHeader('connection'); // Fastify's own, set on requests routed once closing began
      }
    }
    return payload;
  });

  registerErrorHandling(app, config.bodyLimitBytes);
  await registerHardening(app);
  // /healthz, /readyz, /metrics, and the request metrics' hooks: first, so every later answer is counted.
  await registerOperations(app, { store, lifecycle, processMetrics });

  // M8: page, limit (and the audit logs' token id filter, user) are whole decimal numbers. Ajv's coercion would
  // also take 0x10, 1e3, +1 or Infinity.
  const examples: Record<string, number> = { page: 2, limit: 100, user: 12 };
  app.addHook('preValidation', async (request) => {
    if (isConsoleRoute(request)) return;
    const query = request.query as Record<string, unknown> | undefined;
    for (const key of Object.keys(examples)) {
      const value = query?.[key];
      if (value !== undefined && !(typeof value === 'string' && /^[0-9]{1,12}$/.test(value))) {
        throw errors.invalid(`${key} must be a whole number written in digits (e.g. ${key}=${examples[key]})`);
      }
    }
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Steward — Vantage API v2 (managed accounts)',
        version: '2.0.0',
        description: 'A self-hosted server for the managed-accounts part of the Vantage API v2.',
      },
      servers: [{ url: '/' }],
      components: {
        securitySchemes: {
          oauth2: {
            type: 'oauth2',
            description: 'Sent as `Authorization: Bearer vntg_tkn_…`, with the read and/or write scope.',
            flows: { clientCredentials: { tokenUrl: '/oauth/token', scopes: { read: 'Grants read access', write: 'Grants write access' } } },
          },
        },
      },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  for (const schema of [ErrorsSchema, LinksSchema, ManagedAccountSchema, ManagedAccountsSchema]) app.addSchema(schema);

  // onRequest order: rate limit (R3: a throttled request does nothing, not even a token lookup), then the request
  // target's checks (counted like any request), then auth.
  await registerRateLimit(app, config);
  registerRequestTargetChecks(app);
  registerAuth(app, store.db);
  // preHandler, after auth and validation: R2 replays and claims keys only for requests that would run.
  registerIdempotency(app, store, secrets);

  const origin = () => {
    const address = app.server.address() as AddressInfo | null;
    return publicOrigin(config, address?.port);
  };
  await app.register(metaRoutes, { prefix: '/v2' });
  const deps: RouteDeps = { db: store.db, origin, config, secrets };
  await app.register(managedAccountRoutes, {
    prefix: '/v2',
    db: store.db,
    origin,
    policy: { allowedContactDomains: config.allowedContactDomains },
  });
  await app.register(ssoConnectionRoutes, { prefix: '/v2', ...deps });
  await app.register(billingRuleRoutes, { prefix: '/v2', ...deps });
  await app.register(integrationRoutes, { prefix: '/v2', ...deps });
  await app.register(billingProfileRoutes, { prefix: '/v2', ...deps });
  await app.register(meRoutes, { prefix: '/v2', ...deps });
  await app.register(auditLogRoutes, { prefix: '/v2', ...deps });
  await app.register(oauthRoutes, deps);
  await registerConsole(app);
  return app;
}
