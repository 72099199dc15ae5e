/**
 * The one place database constraint errors from both dialects are recognised. Returns which uniqueness rule a
 * write broke, so the domain can answer with the same 400 a sequential duplicate gets (M10).
 */
export type UniqueRule = 'contact_email' | 'domain' | 'other';

export function uniqueViolation(error: unknown): UniqueRule | null {
  if (!error || typeof error !== 'object') return null;
  const e = error as { code?: unknown; constraint?: unknown; message?: unknown };
  let target: string;
  if (e.code === '23505') target = String(e.constraint ?? '');
  else if (e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') target = String(e.message ?? '');
  else return null;
  if (target.includes('contact_email_key')) return 'contact_email';
  if (target.includes('claimed_domains')) return 'domain';
  return 'other';
}

/**
 * A write named a row that another request deleted meanwhile (e.g. the account a token acts for, deleted while the
 * token's request ran). The statement failed, so its transaction changed nothing.
 */
export function foreignKeyViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23503' || code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

/**
 * The database could not do the work in time, or at all: a statement or lock wait over the statement timeout, a
 * deadlock or serialisation failure (Postgres rolled the transaction back), no free pool connection within the
 * connect timeout, another process holding SQLite's write lock past busy_timeout, or the server unreachable.
 * 'busy' and 'unavailable' both mean the transaction did not commit, so a retry is safe.
 */
export function databaseTrouble(error: unknown): 'busy' | 'unavailable' | null {
  if (!error || typeof error !== 'object') return null;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (code === '57014' || code === '55P03' || code === '40001' || code === '40P01' || code === 'SQLITE_BUSY') return 'busy';
  if (code === '53300' || code === '57P01' || code === '57P03' || code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT') return 'unavailable';
  // pg's Pool has no code for these: waiting past connectionTimeoutMillis, or a connection lost mid-query.
  if (typeof message === 'string' && /^(timeout exceeded when trying to connect|Connection terminated|Client (has encountered a connection error|was closed) and is not queryable)/.test(message)) {
    return 'unavailable';
  }
  return null;
}
