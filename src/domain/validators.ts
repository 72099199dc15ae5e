import { domainToASCII, domainToUnicode } from 'node:url';
import { parse as parseHost } from 'tldts';
import validator from 'validator';

/** Field-level checks shared by the API and the CLI. Each returns an error message, or null when valid. */

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;

/** Line/paragraph separators and bidirectional overrides and isolates: they rearrange or break what is displayed. */
const LAYOUT = /[\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;
/** What renders as nothing: whitespace, format characters, combining marks alone, Hangul fillers, blank Braille, variation selectors. */
// eslint-disable-next-line no-misleading-character-class -- each listed code point is matched on its own, on purpose
const INVISIBLE = /[\s\p{Cf}\p{Mn}\p{Me}\u115f\u1160\u3164\uffa0\u2800\ufe00-\ufe0f]/gu;

/** M1: 1–max code points, something visible, no control or layout-changing characters. */
export function checkName(field: string, value: string, max = 255): string | null {
  if (!value.isWellFormed()) return `${field} must be valid Unicode text`;
  const length = [...value].length;
  if (length === 0 || value.replace(INVISIBLE, '').length === 0) return `${field} can't be blank`;
  if (length > max) return `${field} is too long (maximum is ${max} characters)`;
  if (CONTROL.test(value) || LAYOUT.test(value)) return `${field} must not contain control, line-separator or text-direction characters`;
  return null;
}

/** M2: a syntactically valid address (+tags, dots, hyphens, multi-label and internationalised domains). */
export function checkEmail(field: string, value: string): string | null {
  const at = value.lastIndexOf('@');
  const ok =
    value.length <= 254 &&
    value.isWellFormed() &&
    !CONTROL.test(value) &&
    !/[\p{Cf}\p{Z}]/u.test(value) &&
    at > 0 &&
    canonicalHost(value.slice(at + 1)) !== null &&
    validator.isEmail(value, { allow_utf8_local_part: true, require_tld: true, allow_ip_domain: false });
  return ok ? null : `${field} is not a valid email address (e.g. admin+customer@example.co.uk)`;
}

/** Lower-cased and in Unicode NFC, with the domain part in ASCII (punycode), so equal addresses collide in the unique index. */
export function emailKey(value: string): string {
  const at = value.lastIndexOf('@');
  const domain = domainToASCII(value.slice(at + 1)) || value.slice(at + 1);
  // NFC: a precomposed é and e + combining accent are one address (the domain is ASCII already).
  return `${value.slice(0, at)}@${domain}`.toLowerCase().normalize('NFC');
}

export function emailDomainAscii(value: string): string {
  return emailKey(value).slice(emailKey(value).lastIndexOf('@') + 1);
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * M3: a registrable host name: no scheme, '@', path, port or IP; not a bare public suffix such as co.uk.
 * Returns the comparison key (lower-case ASCII) or an error message.
 */
export function checkDomain(field: string, value: string): { key: string } | { error: string } {
  const bad = { error: `${field} must be a domain name such as acme.example.com (no scheme, @, path or port)` };
  if (value.length === 0 || value.length > 253 || !value.isWellFormed() || /[\s/@:?#\\]/.test(value) || CONTROL.test(value)) return bad;
  const ascii = canonicalHost(value.endsWith('.') ? value.slice(0, -1) : value);
  if (!ascii) return bad;
  const labels = ascii.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l))) return bad;
  const parsed = parseHost(ascii, { allowPrivateDomains: true });
  if (parsed.isIp) return bad;
  if (!parsed.domain) return { error: `${field} ${value} is a public suffix; use a domain registered under it` };
  return { key: ascii };
}

/**
 * The host in ASCII (punycode), or null unless it is written the way it is meant: IDNA mapping silently drops or
 * folds some characters (soft hyphens, zero-width spaces, full-width dots), which would let an invisible variant
 * of a domain stand in for, and block, the visible one.
 */
function canonicalHost(host: string): string | null {
  const ascii = domainToASCII(host);
  const written = host.toLowerCase();
  if (!ascii || (written !== ascii && written !== domainToUnicode(ascii))) return null;
  return ascii;
}

/** YYYY-MM-DD that is a real calendar date, or an ISO-8601 date-time (at most nanosecond fractions). */
export function parseDateish(value: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.exec(value);
  if (!m) return null;
  const date = new Date(value.length === 10 ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(date.getTime())) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const check = new Date(Date.UTC(y, mo - 1, d));
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d) return null;
  return date;
}

/** Longer values are cut in error messages, so a 400 never echoes a megabyte back. */
const SHOWN_MAX = 80;

/**
 * A value for an error message: as is, or JSON-quoted when it is empty or has edge spaces that would vanish; a
 * value over 80 characters is cut to its start and its length.
 */
export function shown(value: string): string {
  if ([...value].length > SHOWN_MAX) return `${JSON.stringify([...value].slice(0, SHOWN_MAX - 20).join(''))}… (${[...value].length} characters)`;
  return value !== '' && value.trim() === value ? value : JSON.stringify(value);
}
