import { databaseTrouble, foreignKeyViolation } from '../store/errors.ts';

/**
 * The one error catalogue. The domain throws these; src/http/error-handler.ts renders every one as
 * `{"errors": [...]}` with its status. Messages name the field and say what is allowed (DECISIONS W6).
 */
export class DomainError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 412 | 413 | 415 | 416 | 429 | 500 | 503,
    readonly messages: string[],
    readonly headers: Record<string, string> = {},
  ) {
    super(messages.join('; '));
    this.name = 'DomainError';
  }
}

const REALM = 'Bearer realm="steward"';

export const errors = {
  /** 400: one or more fields are invalid. */
  invalid: (...messages: string[]) => new DomainError(400, messages),

  /** 404 that reads the same whether the resource is another tenant's or never existed (A5). */
  notFound: (resource: 'Managed account' | 'Billing rule' | 'Integration' | 'Billing profile' | 'Audit log' | 'Route') =>
    new DomainError(404, [`${resource} not found`]),

  /** 401 without any credentials: no error attribute (RFC 6750 §3.1). */
  missingToken: () => new DomainError(401, ['Authorization header with a Bearer token is required'], { 'www-authenticate': REALM }),

  /** 401 for a malformed, unknown, expired or revoked token, or a scheme other than Bearer. */
  invalidToken: (reason = 'The bearer token is invalid, expired or revoked') =>
    new DomainError(401, [reason], { 'www-authenticate': `${REALM}, error="invalid_token"` }),

  /** 403 for a valid token lacking the scope (A4). */
  insufficientScope: (scope: 'read' | 'write') =>
    new DomainError(403, [`This bearer token does not have the ${scope} scope required for this request`], {
      'www-authenticate': `Bearer error="insufficient_scope", scope="${scope}"`,
    }),

  /** 403 for an account without the MSP feature. Verbatim Vantage text: clients string-match it (SPEC §1.5). */
  notMsp: () => new DomainError(403, ['You do not have permission to access this resource.']),

  unsupportedMediaType: (got: string) =>
    new DomainError(415, [`Content-Type ${got} is not supported; send application/json`]),

  bodyTooLarge: (limitBytes: number) => new DomainError(413, [`request body is too large (maximum is ${limitBytes} bytes)`]),

  /** R2: an Idempotency-Key header that is not 1–255 visible ASCII characters. */
  invalidIdempotencyKey: () =>
    new DomainError(400, ['Idempotency-Key must be 1 to 255 visible ASCII characters (letters, digits, punctuation; no spaces)']),

  /** R2: the key was first used for another request (method, URL or body differ); nothing was run. */
  idempotencyKeyReused: (key: string) =>
    new DomainError(400, [
      `Idempotency-Key ${JSON.stringify(key)} was already used with a different request (method, URL or body) in the last 24 hours; use a new key for a new request`,
    ]),

  /** R2: the first request with this key has not finished yet; a retry later gets its response. */
  idempotencyInProgress: () => new DomainError(409, ['A request with this Idempotency-Key is still in progress; retry later']),

  /** R3: over the limit; the request did nothing. `headers` carries Retry-After and the x-rate-limit-* headers. */
  rateLimited: (
    limit: { max: number; windowSeconds: number; per: 'token' | 'client address' },
    retryAfterSeconds: number,
    headers: Record<string, string>,
  ) =>
    new DomainError(
      429,
      [
        `Rate limit exceeded: ${limit.max} requests per ${limit.windowSeconds} seconds for this ${limit.per}; retry after ${retryAfterSeconds} seconds`,
      ],
      headers,
    ),

  /** R3: this address sent `max` refused credentials in the window; no credential is checked until it ends. */
  tooManyRefusedCredentials: (limit: { max: number; windowSeconds: number }, retryAfterSeconds: number, headers: Record<string, string>) =>
    new DomainError(
      429,
      [
        `Too many refused credentials: ${limit.max} in ${limit.windowSeconds} seconds from this client address; retry after ${retryAfterSeconds} seconds`,
      ],
      headers,
    ),

  /** Custom SQL is checked one statement at a time per account, a few at a time server-wide; retry shortly. */
  sqlCheckBusy: (who: 'account' | 'server') =>
    new DomainError(
      who === 'account' ? 429 : 503,
      [
        who === 'account'
          ? 'sql_query cannot be checked yet: another custom rule of this account is being checked; retry in a few seconds'
          : 'sql_query cannot be checked yet: the SQL checker is busy; retry in a few seconds',
      ],
      { 'retry-after': '2' },
    ),

  /** A row the request relied on was deleted while it ran (see vanishedReference); nothing was changed. */
  concurrentDeletion: () =>
    new DomainError(409, [
      'something this request refers to (such as the account this token acts for) was deleted while it ran; nothing was changed',
    ]),

  /** The database timed out or was unreachable (see databaseTrouble); the transaction did not commit. */
  databaseBusy: (kind: 'busy' | 'unavailable') =>
    new DomainError(
      503,
      [
        kind === 'busy'
          ? 'the database is busy: this request waited too long and was stopped before anything was saved; retry shortly'
          : 'the database is unavailable: nothing was saved; retry shortly',
      ],
      { 'retry-after': '1' },
    ),

  /** This instance is up but cannot serve yet (e.g. waiting for `steward migrate`); another instance may. */
  notServingYet: (reason: string) => new DomainError(503, [`this Steward instance is not serving yet: ${reason}`], { 'retry-after': '5' }),

  internal: (requestId: string) => new DomainError(500, [`Internal server error (request id ${requestId})`]),
};

/**
 * The answer for a database error that the moment explains rather than a bug: a concurrent deletion (409), or a
 * database that timed out or is unreachable (503). Null for a genuine failure.
 */
export function vanishedReference(error: unknown): DomainError | null {
  if (foreignKeyViolation(error)) return errors.concurrentDeletion();
  const trouble = databaseTrouble(error);
  return trouble ? errors.databaseBusy(trouble) : null;
}
