/**
 * Money and percentages travel as JSON numbers in requests and decimal strings in responses (W8):
 * 0.7 → "0.7", 300 → "300.0". We keep the shortest round-trip digits JavaScript gives for the number,
 * expand exponents, and never do arithmetic on the value, so what Terraform sent is what it reads back.
 */
const DECIMAL = /^-?\d+(\.\d+)?$/;

export function toDecimalString(value: number | string): string | null {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return null;
    text = expandExponent(String(value));
  } else {
    text = value.trim();
    if (/e/i.test(text) && !Number.isNaN(Number(text))) text = expandExponent(text);
  }
  if (!DECIMAL.test(text)) return null;
  let [whole = '0', fraction = ''] = text.split('.');
  const negative = whole.startsWith('-');
  whole = (negative ? whole.slice(1) : whole).replace(/^0+(?=\d)/, '');
  fraction = fraction.replace(/0+$/, '');
  const sign = negative && (whole !== '0' || fraction !== '') ? '-' : '';
  return `${sign}${whole}.${fraction === '' ? '0' : fraction}`;
}

function expandExponent(text: string): string {
  const m = /^(-?)(\d+)(?:\.(\d+))?e([+-]?\d+)$/i.exec(text);
  if (!m) return text;
  const [, sign, int = '', frac = '', expText = '0'] = m;
  const digits = int + frac;
  const point = int.length + Number(expText);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

export function isNegativeDecimal(decimal: string): boolean {
  return decimal.startsWith('-');
}

export function isZeroDecimal(decimal: string): boolean {
  return /^-?0\.0$/.test(decimal);
}

/** JSON numbers arrive as binary doubles, which hold 15 significant decimal digits exactly. */
export const MAX_EXACT_DIGITS = 15;
const MAX_EXACT_MAGNITUDE = 1e15;

/**
 * W8: whether a number from a request can be echoed exactly as the client wrote it. A double keeps any decimal of
 * up to 15 significant digits below 10^15; beyond that the parsed value may already differ from what was sent
 * (1234567890123456.78 arrives as 1234567890123456.8), so such values are refused rather than altered.
 */
export function isExactlyRepresentable(value: number): boolean {
  if (!Number.isFinite(value) || Math.abs(value) >= MAX_EXACT_MAGNITUDE) return false;
  const digits = String(Math.abs(value)).replace(/e[+-]?\d+$/i, '').replace('.', '').replace(/^0+/, '');
  return digits.length <= MAX_EXACT_DIGITS;
}

export const inexactMessage = (field: string) =>
  `${field} has more digits than can be kept exactly (at most ${MAX_EXACT_DIGITS} significant digits, below 1000000000000000)`;
