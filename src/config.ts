import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { newEncryptionKey, parseEncryptionKey, SecretBox } from './domain/secret-box.ts';

/** Everything the server needs, parsed once by the CLI and passed in; nothing reads process.env elsewhere. */
export const ConfigSchema = Type.Object({
  port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
  host: Type.String({ minLength: 1, default: '127.0.0.1' }),
  databaseUrl: Type.String({ minLength: 1, default: './data/steward.sqlite' }),
  /** Origin used to build absolute pagination links; defaults to http://host:port. */
  publicUrl: Type.Optional(Type.String({ minLength: 1 })),
  logLevel: Type.Union(
    [Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug'), Type.Literal('silent')],
    { default: 'info' },
  ),
  bodyLimitBytes: Type.Integer({ minimum: 1024, default: 1024 * 1024 }),
  /** M2: when non-empty, contact emails must belong to one of these domains (or a subdomain). Off by default. */
  allowedContactDomains: Type.Array(Type.String(), { default: [] }),
  /**
   * 32-byte key (64 hex digits) for secrets encrypted at rest. When unset and the database is a SQLite file, a key
   * file `steward.key` (mode 0600) next to it is used, created on first start. Required for PostgreSQL.
   */
  encryptionKey: Type.Optional(Type.String({ minLength: 1 })),
  /** S2: accept http:// SAML metadata URLs (development only). */
  allowHttpSamlMetadata: Type.Boolean({ default: false }),
  /** R3: requests per token per window; 0 turns rate limiting off. Generous by default for self-hosting. */
  rateLimitMax: Type.Integer({ minimum: 0, default: 6000 }),
  rateLimitWindowSeconds: Type.Integer({ minimum: 1, maximum: 86400, default: 60 }),
  /** When set, rate-limit counters live in Redis, shared by every Steward process; otherwise in memory. */
  redisUrl: Type.Optional(Type.String({ minLength: 1 })),
  /** A6: lifetime of access tokens issued by POST /oauth/token. */
  oauthTokenTtlSeconds: Type.Integer({ minimum: 1, maximum: 30 * 86400, default: 3600 }),
  /** PostgreSQL: connections this process may open (processes × this must stay under max_connections). */
  pgPoolMax: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
  /** PostgreSQL: a statement (or its wait for a lock) running longer is cancelled, and the request gets a 503. */
  pgStatementTimeoutMs: Type.Integer({ minimum: 1, maximum: 3_600_000, default: 30_000 }),
  /** PostgreSQL: waiting longer for a free pool connection gives the request a 503. */
  pgConnectTimeoutMs: Type.Integer({ minimum: 1, maximum: 600_000, default: 10_000 }),
  /**
   * PostgreSQL: run the per-request queries as named prepared statements (planned once per connection). Turn off
   * behind a pooler that cannot keep them (PgBouncer in transaction mode before 1.21, or without
   * max_prepared_statements).
   */
  pgPreparedStatements: Type.Boolean({ default: true }),
  /** Run pending migrations when serve starts (off: run `steward migrate` ahead; /readyz stays 503 until then). */
  migrateOnStart: Type.Boolean({ default: true }),
  /**
   * On SIGTERM, how long to keep accepting and answering (with /readyz 503) before the listener closes, so a load
   * balancer's health checks see the 503 and stop sending work first. 0: close at once.
   */
  shutdownDelaySeconds: Type.Integer({ minimum: 0, maximum: 3600, default: 0 }),
  /** On SIGTERM, after the delay, how long in-flight requests may take to finish before the process exits anyway. */
  shutdownTimeoutSeconds: Type.Integer({ minimum: 1, maximum: 3600, default: 30 }),
});
export type Config = Static<typeof ConfigSchema>;

export class ConfigError extends Error {}

/** Settings that are whole numbers: as text they must be plain digits (TypeBox would read `1e3` as 1, `0x10` as 16). */
const WHOLE_NUMBERS = [
  'port',
  'bodyLimitBytes',
  'rateLimitMax',
  'rateLimitWindowSeconds',
  'oauthTokenTtlSeconds',
  'pgPoolMax',
  'pgStatementTimeoutMs',
  'pgConnectTimeoutMs',
  'shutdownDelaySeconds',
  'shutdownTimeoutSeconds',
] as const;

/**
 * Parses settings given as text or values. `sources` names where each came from (an environment variable, a
 * flag), so an error says what to fix: `invalid configuration pgPoolMax (STEWARD_PG_POOL_MAX): …`.
 */
export function parseConfig(input: Record<string, unknown>, sources: Partial<Record<keyof Config, string>> = {}): Config {
  const label = (name: string) => (name in sources ? `${name} (${sources[name as keyof Config]})` : name);
  const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined && v !== ''));
  for (const name of WHOLE_NUMBERS) {
    const value = defined[name];
    if (typeof value === 'string' && !/^[0-9]+$/.test(value.trim())) {
      throw new ConfigError(`invalid configuration ${label(name)}: ${JSON.stringify(value)} is not a whole number written in digits`);
    }
  }
  const candidate = Value.Default(ConfigSchema, Value.Convert(ConfigSchema, defined));
  const firstError = Value.Errors(ConfigSchema, candidate).First();
  if (firstError) {
    const name = firstError.path.slice(1) || '(root)';
    const message = firstError.schema.type === 'boolean' ? `${JSON.stringify(firstError.value)} must be true or false (or 1 or 0)` : firstError.message;
    throw new ConfigError(`invalid configuration ${label(name)}: ${message}`);
  }
  const config = candidate as Config;
  if (config.publicUrl) {
    try {
      const url = new URL(config.publicUrl);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
    } catch {
      throw new ConfigError(`invalid configuration publicUrl: ${config.publicUrl} is not an absolute http(s) URL`);
    }
  }
  return config;
}

/** The Postgres pool settings of a configuration, as openStore takes them. */
export function postgresSettingsOf(config: Pick<Config, 'pgPoolMax' | 'pgStatementTimeoutMs' | 'pgConnectTimeoutMs' | 'pgPreparedStatements'>) {
  return {
    poolMax: config.pgPoolMax,
    statementTimeoutMs: config.pgStatementTimeoutMs,
    connectTimeoutMs: config.pgConnectTimeoutMs,
    preparedStatements: config.pgPreparedStatements,
  };
}

/** The origin (scheme://host[:port]) that clients reach this server at, with no trailing slash. */
export function publicOrigin(config: Config, boundPort?: number): string {
  if (config.publicUrl) return config.publicUrl.replace(/\/+$/, '');
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${boundPort ?? config.port}`;
}

/** The database setting as safe to print or log: a postgres:// password is replaced by ***. */
export function describeDatabase(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    if (url.password) url.password = '***';
    return /^postgres(ql)?:$/.test(url.protocol) ? url.toString() : databaseUrl;
  } catch {
    return databaseUrl;
  }
}

/**
 * The SecretBox for this configuration. The key is read on first use: from `encryptionKey`; else, for a SQLite
 * file, from `steward.key` beside it (created 0600 when missing); an in-memory database gets a throwaway key.
 */
export function secretBoxFor(config: Pick<Config, 'encryptionKey' | 'databaseUrl'>): SecretBox {
  return new SecretBox(() => {
    if (config.encryptionKey) {
      const key = parseEncryptionKey(config.encryptionKey);
      if (!key) throw new ConfigError('invalid configuration encryptionKey: STEWARD_ENCRYPTION_KEY must be 64 hex digits (openssl rand -hex 32)');
      return key;
    }
    if (/^postgres(ql)?:\/\//.test(config.databaseUrl)) {
      throw new ConfigError(
        'STEWARD_ENCRYPTION_KEY is required with PostgreSQL (64 hex digits, e.g. from `openssl rand -hex 32`); every process sharing the database needs the same key',
      );
    }
    const path = config.databaseUrl.replace(/^sqlite:(\/\/)?/, '');
    if (path === ':memory:') return Buffer.from(newEncryptionKey(), 'hex');
    const keyFile = join(dirname(path), 'steward.key');
    if (!existsSync(keyFile)) {
      mkdirSync(dirname(keyFile), { recursive: true });
      try {
        writeFileSync(keyFile, `${newEncryptionKey()}\n`, { mode: 0o600, flag: 'wx' });
      } catch (e) {
        if ((e as { code?: string }).code !== 'EEXIST') throw e; // another process made it first: use theirs
      }
    }
    chmodSync(keyFile, 0o600);
    const key = parseEncryptionKey(readFileSync(keyFile, 'utf8'));
    if (!key) throw new ConfigError(`${keyFile} does not hold a valid key (64 hex digits)`);
    return key;
  });
}
