import { createHash, randomBytes } from 'node:crypto';

/** Resource identifiers: `<prefix>_` + 16 lowercase hex (SPEC §1.4). */
export type ResourcePrefix =
  | 'acct'
  | 'accss_crdntl'
  | 'bllng_rule'
  | 'wrkspc'
  | 'blng_prfl'
  | 'blng_inf'
  | 'biz_inf'
  | 'bnk_inf'
  | 'inv_adj'
  | 'adt_lg';

export function newResourceToken(prefix: ResourcePrefix): string {
  return `${prefix}_${randomBytes(8).toString('hex')}`;
}

/** Anything not shaped like a token of this kind cannot exist, so it is never sent to the database. */
export function isResourceToken(prefix: ResourcePrefix, value: string): boolean {
  return value.length === prefix.length + 17 && value.startsWith(`${prefix}_`) && /^[0-9a-f]{16}$/.test(value.slice(prefix.length + 1));
}

/** A1: `vntg_tkn_` + 40 lowercase hex, 160 bits from the CSPRNG. Shown once, stored only as a hash. */
export const API_TOKEN_PATTERN = /^vntg_tkn_[0-9a-f]{40}$/;

export function newApiTokenSecret(): string {
  return `vntg_tkn_${randomBytes(20).toString('hex')}`;
}

export function hashApiToken(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** W9: UTC, second precision, Z suffix. */
export function nowIso(): string {
  return isoSeconds(new Date());
}

/** A time as W9 writes it (milliseconds dropped). */
export function isoSeconds(time: Date): string {
  return time.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
