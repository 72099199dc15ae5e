import { errors } from '../domain/errors.ts';

/**
 * W4 request bodies: UTF-8 JSON, parsed once and then checked in one pass for what no field may hold.
 *
 * The checks run here, before validation, so that every later walker (Ajv, the domain, idempotency hashing, audit
 * diffs, JSON.stringify) only ever sees shallow, well-formed values:
 * - nesting deeper than MAX_BODY_DEPTH: the deepest body any route takes is five levels, and recursive walkers
 *   overflow the stack somewhere past a few thousand (JSON.parse itself does not recurse);
 * - the keys `__proto__`, `constructor` and `prototype` (prototype poisoning once a body is merged or copied);
 * - NUL characters (Postgres text cannot hold them) and unpaired UTF-16 surrogates written as `\ud800` escapes
 *   (not Unicode text: Postgres' driver would store U+FFFD in their place).
 */
export const MAX_BODY_DEPTH = 32;

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** The parsed body, `undefined` for an empty one (a DELETE from the Go client), or a 400 DomainError thrown. */
export function parseJsonBody(body: Buffer): unknown {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw errors.invalid('request body is not valid UTF-8 (JSON must be sent as UTF-8)');
  }
  if (text.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw errors.invalid(`request body is not valid JSON: ${(e as Error).message}`);
  }
  const problem = firstProblem(value);
  if (problem) throw errors.invalid(problem);
  return value;
}

interface Pending {
  value: unknown;
  path: string;
  depth: number;
}

/** Walks the parsed value with an explicit stack (no recursion, whatever the depth) and names the first bad spot. */
function firstProblem(root: unknown): string | null {
  const stack: Pending[] = [{ value: root, path: '', depth: 0 }];
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop() as Pending;
    if (typeof value === 'string') {
      const problem = stringProblem(value);
      if (problem) return `${path || 'request body'} ${problem}`;
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth >= MAX_BODY_DEPTH) return `request body is nested too deeply (maximum is ${MAX_BODY_DEPTH} levels of objects and arrays)`;
    if (Array.isArray(value)) {
      // Pushed last to first, so the first problem in document order is the one reported.
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], path: `${path}[${i}]`, depth: depth + 1 });
      continue;
    }
    for (const [key, item] of Object.entries(value).reverse()) {
      const keyPath = path ? `${path}.${key}` : key;
      if (FORBIDDEN_KEYS.has(key)) return `request body must not contain the key ${key} (found at ${keyPath})`;
      const keyProblem = stringProblem(key);
      if (keyProblem) return `a key in ${path || 'request body'} ${keyProblem}`;
      stack.push({ value: item, path: keyPath, depth: depth + 1 });
    }
  }
  return null;
}

function stringProblem(value: string): string | null {
  if (value.includes('\u0000')) return 'must not contain the NUL character (\\u0000)';
  if (!value.isWellFormed()) return 'must be valid Unicode text (it contains an unpaired surrogate such as \\ud800)';
  return null;
}
