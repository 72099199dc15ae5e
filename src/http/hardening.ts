import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';
import { errors } from '../domain/errors.ts';
import { errorBody } from './error-handler.ts';
import { isConsoleRoute } from './console.ts';
import { surfaceOf } from './surface.ts';

/**
 * Security headers for a JSON API (helmet): nothing may be rendered, framed, sniffed or referred. The CSP forbids
 * every fetch and framing; the web console at /console gets its own policy (CONSOLE_HELMET_OPTIONS), chosen by path
 * in registerHardening.
 * Cross-Origin-Embedder-Policy stays off (helmet's default): it constrains pages embedding resources, not API
 * clients, and only breaks browser tools that fetch the API from another origin.
 */
const HELMET_OPTIONS: HelmetOptions = {
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  crossOriginEmbedderPolicy: false,
  frameguard: { action: 'deny' },
  referrerPolicy: { policy: 'no-referrer' },
  // No includeSubDomains: Steward is one host among an MSP's, and must not pin its siblings to HTTPS.
  hsts: { maxAge: 31_536_000, includeSubDomains: false },
};

/**
 * The console's pages (src/http/console.ts): scripts, styles, fonts and images from this origin only, no inline
 * script, fetches only to this origin (the API), never framed. Everything else as for the API.
 */
const CONSOLE_HELMET_OPTIONS: HelmetOptions = {
  ...HELMET_OPTIONS,
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'none'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", 'data:'],
      fontSrc: ["'self'"],
      connectSrc: ["'self'"],
      manifestSrc: ["'self'"],
      baseUri: ["'none'"],
      formAction: ["'none'"],
      frameAncestors: ["'none'"],
    },
  },
};

/**
 * The same headers, written out for the two answers that leave before any hook runs (the router's malformed-URL
 * errors and requests Node's HTTP parser rejects, both in src/app.ts). test/http-edges.test.ts checks that they
 * match what helmet sends on a routed response, so the two cannot drift apart.
 */
export const EARLY_RESPONSE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none';frame-ancestors 'none'",
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'DENY',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
  'cache-control': 'no-store',
};

/** Longer request targets get 414; Node's own header limit (16 KiB) would answer 431 a little further on. */
export const MAX_URL_LENGTH = 8192;
/** No route takes more than a dozen query parameters. */
export const MAX_QUERY_PARAMETERS = 50;

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * The headers helmet sets with these options, worked out once. They depend on nothing in the request (no CSP
 * nonces), and @fastify/helmet rebuilt helmet's middleware for every request: 6 % of a GET's CPU in the bench.
 */
export function helmetHeaders(options: HelmetOptions = HELMET_OPTIONS): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader: (name: string, value: string) => void (headers[name.toLowerCase()] = String(value)),
    removeHeader: (name: string) => void delete headers[name.toLowerCase()],
  };
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, () => {});
  return Object.freeze(headers);
}

/** Security headers on every response and no caching of API answers, before anything else. */
export async function registerHardening(app: FastifyInstance): Promise<void> {
  const security = helmetHeaders();
  const consoleSecurity = helmetHeaders(CONSOLE_HELMET_OPTIONS);
  app.addHook('onRequest', async (request, reply) => {
    reply.headers(isConsoleRoute(request) ? consoleSecurity : security);
    // Answers carry tenant data or tokens: no browser or proxy may keep them.
    if (surfaceOf(request)) reply.header('cache-control', 'no-store');
  });
}

/**
 * A sane request target: length, query string, path parameters. Registered after the rate limiter, so requests
 * refused here are counted like any other.
 */
export function registerRequestTargetChecks(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    if (request.url.length > MAX_URL_LENGTH) {
      return reply.code(414).send(errorBody(request.url, [`the request URL is too long (maximum is ${MAX_URL_LENGTH} characters)`]));
    }
    // The console's URLs are its own (its pages read `page` and `q` in the browser); the API's rules are for the API.
    if (isConsoleRoute(request)) return;
    checkQueryString(request.url);
    checkPathParameters(request);
  });
}

/**
 * The query string as Steward reads it: percent-encoded UTF-8, each parameter at most once (a repeated `page` would
 * otherwise arrive as an array), no control characters, and not hundreds of parameters.
 */
function checkQueryString(url: string): void {
  const start = url.indexOf('?');
  if (start === -1) return;
  const seen = new Set<string>();
  for (const pair of url.slice(start + 1).split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const name = decodeQueryPart(equals === -1 ? pair : pair.slice(0, equals));
    const value = decodeQueryPart(equals === -1 ? '' : pair.slice(equals + 1));
    const shownName = JSON.stringify(name.slice(0, 100));
    if (CONTROL.test(name) || CONTROL.test(value)) throw errors.invalid(`query parameter ${shownName} must not contain control characters`);
    if (seen.has(name)) throw errors.invalid(`query parameter ${shownName} is given more than once (send each parameter once)`);
    seen.add(name);
    if (seen.size > MAX_QUERY_PARAMETERS) throw errors.invalid(`too many query parameters (maximum is ${MAX_QUERY_PARAMETERS})`);
  }
}

function decodeQueryPart(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    throw errors.invalid('the query string is malformed: it must be percent-encoded UTF-8 (e.g. name=Soci%C3%A9t%C3%A9)');
  }
}

/**
 * The router has already refused undecodable path parameters; a decoded NUL or other control character is refused
 * here, so no lookup ever carries one to the database (Postgres text cannot hold NUL).
 */
function checkPathParameters(request: FastifyRequest): void {
  for (const [name, value] of Object.entries((request.params ?? {}) as Record<string, unknown>)) {
    if (typeof value === 'string' && CONTROL.test(value)) throw errors.invalid(`path parameter ${name} must not contain control characters`);
  }
}
