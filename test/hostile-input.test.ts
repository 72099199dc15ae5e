import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { createApiToken, revokeApiToken } from '../src/domain/accounts.ts';
import { createOauthClient } from '../src/domain/oauth.ts';
import { hashApiToken } from '../src/domain/tokens.ts';
import type { Store } from '../src/store/database.ts';
import { call, DIALECTS, nonMspToken, seedMsp, testApp, uniqueEmail } from './helpers/app.ts';
import { auditLogs } from './matrix/audit-logs.ts';
import { billingProfiles } from './matrix/billing-profiles.ts';
import { billingRules } from './matrix/billing-rules.ts';
import { integrations } from './matrix/integrations.ts';
import { managedAccounts } from './matrix/managed-accounts.ts';
import { me } from './matrix/me.ts';
import { ssoConnections } from './matrix/sso-connections.ts';
import { uniqueDomain, type Area, type ParamSpec, type RouteSpec, type Tenant, type World } from './matrix/types.ts';

/**
 * Issue 4 item 5: a property-based test that sends generated hostile requests to every route and asserts each is
 * refused with a 4xx in Steward's error shape, and that stored data is unchanged afterwards.
 *
 * Every generated request starts from a plausible one (the victim tenant's own token and resources, a body that
 * would succeed) and carries at least one defect that guarantees refusal; the rest of its content is arbitrary.
 * HOSTILE_SEED and HOSTILE_RUNS override the fixed seed and the number of requests (docs/security.md).
 */
const SEED = Number(process.env.HOSTILE_SEED ?? 4_2026);
const RUNS = Number(process.env.HOSTILE_RUNS ?? 10_000);

/** The security matrix's areas: how to fill each path parameter and a body that succeeds (audit logs last, as there). */
const AREAS: Area[] = [managedAccounts, ssoConnections, billingRules, integrations, billingProfiles, me, auditLogs];
const MATRIX: RouteSpec[] = AREAS.flatMap((a) => a.routes);
const PATH_PARAMS: Record<string, ParamSpec> = Object.assign({}, ...AREAS.map((a) => a.params ?? {}));

/** The OAuth endpoints: not in the OpenAPI document, which describes /v2 only. */
const OAUTH_ROUTES: Route[] = [
  { method: 'POST', path: '/oauth/token', auth: 'client' },
  { method: 'POST', path: '/oauth/revoke', auth: 'client' },
  { method: 'POST', path: '/oauth/introspect', auth: 'client' },
  { method: 'GET', path: '/.well-known/oauth-authorization-server', auth: 'none' },
];

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'OPTIONS';

interface Route {
  method: Method;
  /** OpenAPI form: /v2/billing_rules/{billing_rule_token} */
  path: string;
  /** bearer: a /v2 token; client: OAuth client authentication; none: public. */
  auth: 'bearer' | 'client' | 'none';
  scope?: 'read' | 'write';
  /** Takes page and limit (M8), so their ranges are checked as well as their digits. */
  paginated?: boolean;
  /** Query parameters with a value each that their schema refuses (out of an enum, not an integer, too long, empty). */
  badFilters?: Array<[string, string]>;
  matrix?: RouteSpec;
}

interface Fixture extends World {
  /** A read-scoped OAuth client of A (its secret), for the OAuth endpoints. */
  oauthClient: { id: string; secret: string };
  routes: Route[];
}

// ---- The world: two MSP tenants with every kind of resource, as the security matrix builds them.

async function tenant(app: FastifyInstance, store: Store, name: string): Promise<Tenant> {
  const msp = await seedMsp(store, name);
  const accounts: string[] = [];
  for (let i = 0; i < 2; i++) {
    const res = await call(app, 'POST', '/v2/managed_accounts', {
      token: msp.token,
      body: { name: `${name} customer ${i}`, contact_email: uniqueEmail('customer'), email_domain: uniqueDomain(), billing_rule_tokens: [msp.rules[0]], access_credential_tokens: [msp.integrations[0]] },
    });
    assert.equal(res.status, 201, res.raw);
    accounts.push(res.body.token);
  }
  const t: Tenant = { ...msp, managedAccounts: accounts, extra: {} };
  for (const area of AREAS) await area.prepare?.(app, store, t);
  return t;
}

async function fixture(app: FastifyInstance, store: Store): Promise<Fixture> {
  const a = await tenant(app, store, 'MSP A');
  const b = await tenant(app, store, 'MSP B');
  const fresh = async () => (await createApiToken(store.db, { accountToken: a.accountToken, scopes: 'read,write' })).token;
  const revoked = await fresh();
  await revokeApiToken(store.db, revoked);
  const expired = await fresh();
  await store.db.updateTable('api_tokens').set({ expires_at: '2000-01-01T00:00:00Z' }).where('token_hash', '=', hashApiToken(expired)).execute();
  const client = await createOauthClient(store.db, { accountToken: a.accountToken, scopes: 'read' });
  await app.ready();
  return {
    app,
    store,
    a,
    b,
    badAuthorizations: [
      ['junk', 'Bearer not-a-real-token'],
      ['unknown', `Bearer vntg_tkn_${'0'.repeat(40)}`],
      ['revoked', `Bearer ${revoked}`],
      ['expired', `Bearer ${expired}`],
      ['basic', `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`],
      ['upper case', `Bearer ${a.token.toUpperCase()}`],
      ['trailing garbage', `Bearer ${a.token} x`],
      ['latin-1 bytes', `Bearer vntg_tkn_\u00ff\u00e9`],
    ],
    nonMsp: [['plain customer', await nonMspToken(store)]],
    oauthClient: { id: client.client_id, secret: client.client_secret },
    routes: [...documentedRoutes(app), ...OAUTH_ROUTES],
  };
}

/** Every operation of the served OpenAPI document, with its auth and (when the matrix lists it) a body that works. */
function documentedRoutes(app: FastifyInstance): Route[] {
  type Operation = { security?: Array<Record<string, string[]>>; parameters?: Parameter[] };
  const doc = app.swagger() as { paths: Record<string, Record<string, Operation>> };
  const routes: Route[] = [];
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const scope = operation.security?.[0]?.oauth2?.[0] as 'read' | 'write' | undefined;
      const upper = method.toUpperCase() as Method;
      const matrix = MATRIX.find((r) => r.method === upper && r.path === path);
      const paginated = operation.parameters?.some((p) => p.in === 'query' && p.name === 'page') ?? false;
      const badFilters = (operation.parameters ?? []).filter((p) => p.in === 'query' && p.name !== 'page' && p.name !== 'limit').flatMap(refusedValues);
      routes.push({ method: upper, path, auth: scope ? 'bearer' : 'none', scope, paginated, badFilters, matrix });
    }
  }
  return routes;
}

interface Parameter {
  in: string;
  name: string;
  schema?: { type?: string; enum?: unknown[]; maxLength?: number; minLength?: number };
}

/** Values a query parameter's schema refuses, whatever else the request says. */
function refusedValues({ name, schema = {} }: Parameter): Array<[string, string]> {
  const values: string[] = [];
  if (schema.enum || schema.type === 'integer') values.push(...SQL_INJECTIONS.slice(0, 3));
  if (schema.maxLength !== undefined) values.push('a'.repeat(schema.maxLength + 1));
  if (schema.minLength !== undefined && schema.minLength > 0) values.push('');
  return values.map((value) => [name, value]);
}

// ---- Stored data: a fingerprint of every table (rows in a stable order), api_tokens.last_used_at aside.

/** This database's own tables (Kysely's introspector reads every schema, and races other tests dropping theirs). */
async function tableNames(store: Store): Promise<string[]> {
  const query =
    store.dialect === 'postgres'
      ? sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'`
      : sql<{ name: string }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%'`;
  return (await query.execute(store.db)).rows.map((r) => r.name).sort();
}

async function fingerprint(store: Store, tables: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of tables) {
    const rows = await sql<Record<string, unknown>>`select * from ${sql.table(name)}`.execute(store.db);
    const lines = rows.rows.map((row) => {
      const kept = Object.entries(row).filter(([column]) => !(name === 'api_tokens' && column === 'last_used_at'));
      return JSON.stringify(kept.sort(([x], [y]) => x.localeCompare(y)));
    });
    out[name] = `${lines.length} rows, sha256 ${createHash('sha256').update(lines.sort().join('\n')).digest('hex')}`;
  }
  return out;
}

// ---- Generated requests.

interface Request {
  method: Method;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
  /** What makes it a request that must be refused, named in the failure report. */
  defects: string[];
}

const SQL_INJECTIONS = [
  "' OR '1'='1",
  "1' OR 1=1 --",
  "x'; DROP TABLE accounts; --",
  '1; SELECT pg_sleep(5)',
  "' UNION SELECT token_hash FROM api_tokens --",
  '") OR ("a"="a',
  '1)) OR 1=1/*',
  '%27 OR 1=1',
];
const INVALID_UTF8_PATH = ['%FF', '%C0%AF', '%E0%80%80', '%ED%A0%80', '%F8%88%80%80%80', '%', '%zz'];
const INVALID_UTF8_BYTES = [[0xff], [0xc0, 0xaf], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xc3], [0x80]];

/** Lower-case letters and underscores (fc.stringMatching is far slower). */
function word(maxLength: number): fc.Arbitrary<string> {
  return fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz_'), minLength: 1, maxLength });
}

const junkText = fc.oneof(
  fc.constantFrom(...SQL_INJECTIONS),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('acct_zzzzzzzzzzzzzzzz', 'bllng_rule_', 'wrkspc_0000000000000000', '<script>alert(1)</script>', '../../etc/passwd', '\u202e\u0000'),
);
const junkValue = fc.oneof(junkText, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(junkText, { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 8 }), junkText, { maxKeys: 2 }));
/** Unknown keys a body may carry (ignored by W2) — their names avoid the real fields so they never mask a defect. */
const extraKeys = fc.dictionary(word(10).map((w) => `x_${w}`), junkValue, { maxKeys: 3 });
/** Query parameters no route reads. */
const extraQuery = fc.array(fc.tuple(word(8).map((w) => `q_${w}`), junkText), { maxLength: 3 });

const junkParam = fc.oneof(
  junkText.map((s) => encodeURIComponent(s)),
  fc.constantFrom(...INVALID_UTF8_PATH),
  fc.constantFrom('%00', 'a%0Ab', '%0D%0Aset-cookie:x', 'acct_%00'),
  fc.integer({ min: 101, max: 3000 }).map((n) => 'a'.repeat(n)),
).filter((s) => {
  const decoded = s.replace(/%2e/gi, '.');
  return s !== '' && decoded !== '.' && decoded !== '..';
});

function fill(path: string, pick: (name: string, i: number) => string): string {
  let i = 0;
  return path.replace(/\{(\w+)\}/g, (_m, name: string) => pick(name, i++));
}

/** The plausible request for a route: the victim's own full token, own resources, and a body that would succeed. */
function plausible(f: Fixture, route: Route): Request {
  const headers: Record<string, string> = {};
  if (route.auth === 'bearer') headers.authorization = `Bearer ${f.a.token}`;
  if (route.auth === 'client') headers.authorization = `Basic ${Buffer.from(`${f.oauthClient.id}:${f.oauthClient.secret}`).toString('base64')}`;
  const url = fill(route.path, (name) => paramOf(route, name)?.of(f.a, 0) ?? 'unknown_0000000000000000');
  let payload: string | undefined;
  if (route.path === '/oauth/token') payload = 'grant_type=client_credentials&scope=read';
  else if (route.auth === 'client') payload = `token=${f.a.readOnly}`;
  else if (route.matrix?.body) payload = JSON.stringify(route.matrix.body(f));
  if (payload !== undefined) headers['content-type'] = route.auth === 'client' ? 'application/x-www-form-urlencoded' : 'application/json';
  return { method: route.method, url, headers, payload, defects: [] };
}

/** A defect for a route, given its plausible request; undefined where it would not guarantee refusal. */
type Defect = (f: Fixture, route: Route, base: Request) => fc.Arbitrary<(r: Request) => Request> | undefined;

const withDefect = (name: string, r: Request, change: Partial<Request>): Request => ({ ...r, ...change, defects: [...r.defects, name] });
const hasBody = (route: Route) => route.method === 'POST' || route.method === 'PUT' || route.method === 'DELETE';
const isJson = { 'content-type': 'application/json' };

function jsonBody(r: Request): Record<string, unknown> {
  if (r.headers['content-type'] !== 'application/json' || typeof r.payload !== 'string') return {};
  const parsed: unknown = JSON.parse(r.payload);
  return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
}

/** The fields of the body that succeeds (so the route reads them), without the unknown x_ keys, and not null. */
const usedFields = (r: Request) => Object.entries(jsonBody(r)).filter(([k, v]) => v !== null && !k.startsWith('x_'));
const stringFields = (r: Request) => usedFields(r).filter(([, v]) => typeof v === 'string').map(([k]) => k);

/** Fields whose values have a strict format, so an injection string there is always refused. */
const STRICT_FIELDS = new Set([
  'contact_email', 'email_domain', 'billing_rule_tokens', 'access_credential_tokens', 'workspace_tokens', 'type', 'start_date', 'end_date',
  'saml_metadata_url', 'additional_domains', 'msp_billing_profile_token', 'percentage', 'amount', 'provider_account_identifiers',
]);

function without(headers: Record<string, string>, name: string): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => k !== name));
}

function pathNames(route: Route): string[] {
  return [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);
}

function paramOf(route: Route, name: string): ParamSpec | undefined {
  return route.matrix?.params?.[name] ?? PATH_PARAMS[name];
}

/** The query part of a URL ('' or '?…'), kept when a defect rewrites the path. */
const queryOf = (url: string) => (url.includes('?') ? url.slice(url.indexOf('?')) : '');

/**
 * Who calls and on what: at most one of these per request (another tenant's token and "another tenant's resource"
 * together would be a tenant calling its own resource).
 */
const CALLER_DEFECTS: Record<string, Defect> = {
  noCredentials: (_f, route) => (route.auth === 'none' ? undefined : fc.constant((r) => withDefect('no credentials', r, { headers: without(r.headers, 'authorization') }))),
  badBearer: (f, route) =>
    route.auth !== 'bearer'
      ? undefined
      : fc.constantFrom(...f.badAuthorizations).map(([what, value]) => (r: Request) => withDefect(`bad token (${what})`, r, { headers: { ...r.headers, authorization: value } })),
  badClient: (f, route) =>
    route.auth !== 'client'
      ? undefined
      : fc
          .constantFrom(`Bearer ${f.a.token}`, `Basic ${Buffer.from(`${f.oauthClient.id}:wrong`).toString('base64')}`, 'Basic !!!', `Basic ${Buffer.from('stw_client_0000000000000000:x').toString('base64')}`)
          .map((value) => (r: Request) => withDefect('bad client credentials', r, { headers: { ...r.headers, authorization: value } })),
  wrongScope: (f, route) =>
    route.auth !== 'bearer'
      ? undefined
      : fc.constant((r) => withDefect('token without the scope', r, { headers: { ...r.headers, authorization: `Bearer ${route.scope === 'read' ? f.a.writeOnly : f.a.readOnly}` } })),
  notMsp: (f, route) =>
    route.auth !== 'bearer' || !route.matrix || route.matrix.openToNonMsp
      ? undefined
      : fc.constant((r) => withDefect('account that is not an MSP', r, { headers: { ...r.headers, authorization: `Bearer ${f.nonMsp[0]?.[1]}` } })),
  otherTenant: (f, route) =>
    route.auth !== 'bearer' || pathNames(route).length === 0
      ? undefined
      : fc.constant((r) => withDefect("another tenant's token on the victim's resource", r, { headers: { ...r.headers, authorization: `Bearer ${f.b.token}` } })),
  otherResource: (f, route) => {
    const names = pathNames(route);
    if (names.length === 0) return undefined;
    return fc.tuple(fc.nat(), junkParam, fc.constantFrom('foreign', 'never-existed', 'junk')).map(([n, junk, kind]) => (r: Request) => {
      const target = n % names.length;
      const path = fill(route.path, (name, i) => {
        const spec = paramOf(route, name);
        if (i !== target) return spec?.of(f.a, 0) ?? 'unknown_0000000000000000';
        return (kind === 'foreign' ? spec?.of(f.b, 0) : kind === 'never-existed' ? spec?.neverExisted : undefined) ?? junk;
      });
      return withDefect(`${kind} path parameter`, r, { url: path + queryOf(r.url) });
    });
  },
};

/** The request line and headers around the call: any of them may join a caller defect. */
const TARGET_DEFECTS: Record<string, Defect> = {
  badQuery: (_f, route) =>
    fc
      .oneof(
        // Refused on every route (page and limit are digits wherever they appear), and out of range where they are read.
        fc.constantFrom('page=-1', 'page=1.5', 'page=1e3', 'page=0x10', 'page=', 'limit=abc', 'limit=%EF%BC%91', 'page=99999999999999'),
        fc.constantFrom(...(route.paginated ? ['page=0', 'limit=0', 'page=2147483648'] : ['page=x'])),
        fc.tuple(fc.constantFrom('page', 'limit'), fc.constantFrom(...SQL_INJECTIONS)).map(([name, s]) => `${name}=${encodeURIComponent(s)}`),
        fc.constantFrom('page=1&page=2', 'limit=1&limit=1', 'q=a&q=b', 'provider=aws&provider=gcp'),
        fc.constantFrom(...INVALID_UTF8_PATH).map((bad) => `q=${bad}`),
        fc.constantFrom('%FF=1', 'q=%00', 'q=a%0Db', 'q=%7F'),
        fc.integer({ min: 51, max: 400 }).map((n) => Array.from({ length: n }, (_, i) => `p${i}=1`).join('&')),
        fc.integer({ min: 8200, max: 20_000 }).map((n) => `q=${'a'.repeat(n)}`),
      )
      .map((query) => (r: Request) => withDefect(`bad query (${query.slice(0, 30)})`, r, { url: `${r.url}${r.url.includes('?') ? '&' : '?'}${query}` })),
  badFilter: (_f, route) =>
    !route.badFilters?.length
      ? undefined
      : fc.constantFrom(...route.badFilters).map(([name, value]) => (r: Request) =>
          withDefect(`filter ${name}=${JSON.stringify(value.slice(0, 20))}`, r, { url: `${r.url}${r.url.includes('?') ? '&' : '?'}${name}=${encodeURIComponent(value)}` }),
        ),
  wrongMethod: (f, route) => {
    const allowed = new Set(f.routes.filter((x) => x.path === route.path).map((x) => x.method));
    const others = (['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as Method[]).filter((m) => !allowed.has(m));
    return fc.constantFrom(...others).map((method) => (r: Request) => withDefect(`method ${method} not allowed`, r, { method }));
  },
  unknownPath: () =>
    fc
      .tuple(fc.constantFrom('/v2/', '/v1/', '/', '/oauth/', '/v2/managed_accounts/acct_0000000000000000/', '/.well-known/'), fc.oneof(word(20), junkParam))
      .filter(([, name]) => !KNOWN_SEGMENTS.has(safeDecode(name)))
      .map(([prefix, name]) => (r: Request) => withDefect('unknown path', r, { url: `${prefix}${name}${queryOf(r.url)}` })),
  badIdempotencyKey: (_f, route) =>
    route.auth !== 'bearer' || !hasBody(route)
      ? undefined
      : fc.constantFrom('has space', 'k'.repeat(256), 'caf\u00e9', 'tab\there', '"quoted"\u0080').map((key) => (r: Request) => withDefect(`Idempotency-Key ${JSON.stringify(key.slice(0, 20))}`, r, { headers: { ...r.headers, 'idempotency-key': key } })),
};

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

const KNOWN_SEGMENTS = new Set(['ping', 'me', 'token', 'revoke', 'introspect', 'integrations', 'billing_rules', 'billing_profiles', 'managed_accounts', 'audit_logs', 'sso_connection', 'oauth-authorization-server', 'oas_v3.json']);

/** What the body says: at most one per request, applied to the plausible body before anything else. */
const BODY_DEFECTS: Record<string, Defect> = {
  malformedJson: (_f, route) =>
    !hasBody(route)
      ? undefined
      : fc
          .constantFrom('{', '{"name": "x",', '{name: 1}', "{'a': 1}", '[1,', '{"a": 01}', '{"a": NaN}', '{"a": "x"}}', '"unterminated', '{"a": 1} trailing', '{"a":"\\x"}')
          .map((text) => (r: Request) => withDefect('malformed JSON', r, { payload: text, headers: { ...r.headers, ...isJson } })),
  wrongContentType: (_f, route) =>
    !hasBody(route)
      ? undefined
      : fc
          .tuple(fc.constantFrom('text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/jsonp', 'application/json-patch+json', 'image/png', ''), fc.constantFrom('{"name":"x"}', 'name=x', '<a/>'))
          .map(([type, payload]) => (r: Request) => withDefect(`content type ${JSON.stringify(type)}`, r, { payload, headers: type === '' ? without(r.headers, 'content-type') : { ...r.headers, 'content-type': type } })),
  prototypeKey: (_f, route) =>
    !hasBody(route)
      ? undefined
      : fc.tuple(fc.constantFrom('__proto__', 'constructor', 'prototype'), fc.nat({ max: 6 })).map(([key, depth]) => (r: Request) => {
          // Written into the JSON text: JSON.stringify never emits a __proto__ key from an object literal.
          let poisoned = `{"${key}":{"isAdmin":true}}`;
          for (let i = 0; i < depth; i++) poisoned = i % 2 ? `[${poisoned}]` : `{"x_nested":${poisoned}}`;
          const payload = JSON.stringify({ ...jsonBody(r), x_carrier: 0 }).replace('"x_carrier":0', depth === 0 ? poisoned.slice(1, -1) : `"x_carrier":${poisoned}`);
          return withDefect(`key ${key} at depth ${depth}`, r, { payload, headers: { ...r.headers, ...isJson } });
        }),
  deepNesting: (_f, route) =>
    !hasBody(route)
      ? undefined
      : fc.tuple(fc.constantFrom(33, 100, 1000, 10_000, 100_000, 400_000), fc.boolean()).map(([depth, arrays]) => (r: Request) => {
          const [open, close] = arrays ? ['[', ']'] : ['{"x_a":', '}'];
          const payload = JSON.stringify({ ...jsonBody(r), x_deep: 0 }).replace('"x_deep":0', `"x_deep":${open.repeat(depth)}1${close.repeat(depth)}`);
          return withDefect(`nested ${depth} levels`, r, { payload, headers: { ...r.headers, ...isJson } });
        }),
  invalidUtf8Body: (_f, route) =>
    !hasBody(route)
      ? undefined
      : fc.constantFrom(...INVALID_UTF8_BYTES).map((bytes) => (r: Request) => {
          const text = typeof r.payload === 'string' ? r.payload : '{"x_a":"b"}';
          const at = Math.max(1, text.indexOf('"') + 1);
          const payload = Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from(bytes), Buffer.from(text.slice(at))]);
          return withDefect('invalid UTF-8 in the body', r, { payload, headers: { ...isJson, ...r.headers } });
        }),
  nulOrSurrogate: (_f, route, base) =>
    !hasBody(route) || route.auth === 'client'
      ? undefined
      : fc.tuple(fc.constantFrom('\\u0000', '\\ud800', '\\udfff', 'a\\ud83d'), fc.nat()).map(([escape, n]) => (r: Request) => {
          const fields = stringFields(base);
          const field = fields.length > 0 ? (fields[n % fields.length] as string) : 'x_text';
          const body = jsonBody(r);
          body[field] = `${String(body[field] ?? '')}\u0001MARK`;
          return withDefect(`${escape} in ${field}`, r, { payload: JSON.stringify(body).replace('\\u0001MARK', escape), headers: { ...r.headers, ...isJson } });
        }),
  oversizeBody: (_f, route) =>
    !hasBody(route)
      ? undefined
      : fc.integer({ min: 1024 * 1024 + 1, max: 1024 * 1024 + 4096 }).map((size) => (r: Request) => {
          const body = JSON.stringify({ ...jsonBody(r), x_pad: '' });
          const payload = body.replace('"x_pad":""', `"x_pad":"${'a'.repeat(size - body.length)}"`);
          return withDefect(`${size}-byte body`, r, { payload, headers: { ...isJson, ...r.headers } });
        }),
  overLongField: (_f, route, base) => {
    const fields = stringFields(base);
    if (route.method === 'DELETE' || fields.length === 0) return undefined;
    return fc.tuple(fc.constantFrom(...fields), fc.integer({ min: 20_001, max: 1_000_000 })).map(([field, length]) => (r: Request) =>
      withDefect(`${length}-character ${field}`, r, { payload: JSON.stringify({ ...jsonBody(r), [field]: 'a'.repeat(length) }) }),
    );
  },
  wrongType: (_f, route, base) => {
    if (route.method === 'DELETE' || usedFields(base).length === 0) return undefined;
    const kind = (v: unknown) => (Array.isArray(v) ? 'array' : typeof v);
    const swaps = usedFields(base).flatMap(([field, was]) =>
      ([7, 1.5, true, { a: 1 }, ['x'], 'text'] as unknown[]).filter((value) => kind(value) !== kind(was) && !(kind(was) === 'number' && kind(value) === 'number')).map((value) => [field, value] as const),
    );
    return fc.constantFrom(...swaps).map(([field, value]) => (r: Request) => withDefect(`${field} as ${JSON.stringify(value)}`, r, { payload: JSON.stringify({ ...jsonBody(r), [field]: value }) }));
  },
  injectionInStrictField: (_f, route, base) => {
    const strict = usedFields(base).filter(([k]) => STRICT_FIELDS.has(k));
    if (route.method === 'DELETE' || strict.length === 0) return undefined;
    return fc.tuple(fc.constantFrom(...strict), fc.constantFrom(...SQL_INJECTIONS)).map(([[field, value], injection]) => (r: Request) =>
      withDefect(`SQL injection in ${field}`, r, { payload: JSON.stringify({ ...jsonBody(r), [field]: Array.isArray(value) ? [injection] : injection }) }),
    );
  },
};

/** One defect of a group that applies to the route, or none. */
function oneOf(group: Record<string, Defect>, f: Fixture, route: Route, base: Request): fc.Arbitrary<((r: Request) => Request) | null> {
  const applicable = Object.values(group)
    .map((d) => d(f, route, base))
    .filter((d): d is fc.Arbitrary<(r: Request) => Request> => d !== undefined);
  return applicable.length === 0 ? fc.constant(null) : fc.option(fc.oneof(...applicable), { freq: 2 });
}

/**
 * A route, then the plausible request with arbitrary extras (unknown body keys and query parameters, a client
 * x-request-id), then up to one body, one caller and one target defect — at least one of them.
 */
function hostileRequest(f: Fixture): fc.Arbitrary<Request> {
  return fc
    .constantFrom(...f.routes)
    .chain((route) => {
      const base = plausible(f, route);
      const defects = fc
        .tuple(oneOf(BODY_DEFECTS, f, route, base), oneOf(CALLER_DEFECTS, f, route, base), oneOf(TARGET_DEFECTS, f, route, base))
        .filter((chosen) => chosen.some((d) => d !== null));
      return fc.tuple(fc.constant(base), defects, extraKeys, extraQuery, fc.option(junkText));
    })
    .map(([base, defects, extra, query, requestId]) => {
      let r = base;
      if (r.headers['content-type'] === 'application/json' && Object.keys(extra).length > 0) r = { ...r, payload: JSON.stringify({ ...jsonBody(r), ...extra }) };
      if (query.length > 0) r = { ...r, url: `${r.url}?${query.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}` };
      if (requestId !== null) r = { ...r, headers: { ...r.headers, 'x-request-id': requestId.replace(/[^\x20-\x7e]/g, '') || 'client-id' } };
      for (const defect of defects) if (defect) r = defect(r);
      return Object.assign(r, { [fc.toStringMethod]: () => describeRequest(r) });
    });
}

// ---- The property.

/** A request as a failure report shows it: long URLs and payloads cut short. */
function describeRequest(r: Request): string {
  const payload = r.payload === undefined ? '' : ` ${String(r.payload).slice(0, 200)}${String(r.payload).length > 200 ? `… (${r.payload.length} bytes)` : ''}`;
  return `${r.method} ${r.url.slice(0, 200)} ${JSON.stringify(r.headers)}${payload} [defects: ${r.defects.join('; ')}]`;
}

const OAUTH_PATH = /^\/(oauth|\.well-known)\//;

function assertRefused(r: Request, res: { statusCode: number; headers: Record<string, unknown>; body: string }): void {
  const what = `${describeRequest(r)} → ${res.statusCode} ${res.body.slice(0, 300)}`;
  assert.ok(res.statusCode >= 400 && res.statusCode <= 499, `expected a 4xx: ${what}`);
  const id = res.headers['x-request-id'];
  assert.ok(typeof id === 'string' && id !== '' && id !== r.headers['x-request-id'], `x-request-id missing or the client's echoed: ${what}`);
  assert.equal(res.headers['x-content-type-options'], 'nosniff', `security headers missing: ${what}`);
  assert.match(String(res.headers['content-type']), /^application\/json/, `content type: ${what}`);
  const body = JSON.parse(res.body) as { errors?: unknown; error?: unknown };
  assert.ok(Array.isArray(body.errors) && body.errors.length > 0 && body.errors.every((e) => typeof e === 'string' && e !== ''), `errors: ${what}`);
  if (OAUTH_PATH.test(r.url)) assert.equal(typeof body.error, 'string', `RFC 6749 error: ${what}`);
}

for (const dialect of DIALECTS) {
  describe(`hostile input [${dialect.name}]`, { skip: dialect.skip }, () => {
    test(`${RUNS} generated hostile requests across every route: each a 4xx with errors, and no stored data changes`, { timeout: 600_000 }, async (t) => {
      const { app, db } = await testApp(t, dialect.name, { rateLimitMax: 0 });
      const f = await fixture(app, db.store);
      const tables = await tableNames(db.store);
      assert.ok(tables.includes('audit_logs') && tables.includes('api_tokens'), `tables: ${tables.join(', ')}`);
      const before = await fingerprint(db.store, tables);
      // Compared after every request that could write, so that fast-check can shrink the one that did; a change
      // becomes the new reference, so each shrinking step is judged on what it changed itself.
      let current = before;
      const statuses = new Map<number, number>();
      let sent = 0;
      const started = Date.now();
      await fc.assert(
        fc.asyncProperty(hostileRequest(f), async (r) => {
          const res = await app.inject({ method: r.method, url: r.url, headers: r.headers, ...(r.payload !== undefined ? { payload: r.payload } : {}) });
          sent += 1;
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
          // Taken before any assertion can throw, so that the reference always holds what the last request left.
          const changed: string[] = [];
          if (r.method !== 'GET') {
            const now = await fingerprint(db.store, tables);
            changed.push(...Object.keys(now).filter((table) => now[table] !== current[table]));
            current = now;
          }
          assertRefused(r, res);
          assert.deepEqual(changed, [], `stored data changed by ${describeRequest(r)} → ${res.statusCode} ${res.body.slice(0, 300)}`);
        }),
        { seed: SEED, numRuns: RUNS, includeErrorInReport: true },
      );
      const seconds = (Date.now() - started) / 1000;
      const histogram = [...statuses.entries()].sort(([x], [y]) => x - y).map(([s, n]) => `${s}: ${n}`).join(', ');
      console.log(`hostile input [${dialect.name}]: ${sent} requests to ${f.routes.length} routes and unknown paths in ${seconds.toFixed(1)} s (seed ${SEED}); statuses ${histogram}`);
      assert.ok(sent >= RUNS, `sent ${sent} requests`);
      assert.deepEqual(await fingerprint(db.store, tables), before, 'stored data changed');
    });
  });
}
