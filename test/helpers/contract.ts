import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance } from 'fastify';
import { call, type Response } from './app.ts';

/** The shared contract, read from ../shared (never copied into the project). */
export const CONTRACT_PATH = join(dirname(fileURLToPath(import.meta.url)), '../../../shared/contract/vantage-v2-subset.openapi.json');
export const contractMissing = existsSync(CONTRACT_PATH) ? undefined : `contract file ${CONTRACT_PATH} is absent, so contract validation is skipped`;

interface Operation {
  operationId?: string;
  responses: Record<string, { content?: { 'application/json'?: { schema?: object } } }>;
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- an OpenAPI document read from disk
type Doc = { paths: Record<string, Record<string, Operation>>; [k: string]: any };

let loaded: { doc: Doc; ajv: Ajv } | undefined;
function contract(): { doc: Doc; ajv: Ajv } {
  if (!loaded) {
    const doc = JSON.parse(readFileSync(CONTRACT_PATH, 'utf8')) as Doc;
    // OpenAPI 3.0 `nullable` is understood by Ajv; `example`, `x-*` are ignored with strict off.
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats.default(ajv);
    const integer = (bits: number) => ({ type: 'number' as const, validate: (n: number) => Number.isInteger(n) && Math.abs(n) < 2 ** (bits - 1) });
    ajv.addFormat('int32', integer(32)).addFormat('int64', integer(64));
    ajv.addSchema({ $id: 'contract', components: doc.components }, 'contract');
    loaded = { doc, ajv };
  }
  return loaded;
}

const validators = new Map<string, ValidateFunction>();

/** The contract's template for a concrete /v2 path, e.g. /v2/managed_accounts/acct_1 → /managed_accounts/{managed_account_token}. */
export function contractPath(path: string, method?: string): string {
  const bare = path.split('?')[0]!.replace(/^\/v2/, '');
  const parts = bare.split('/');
  const templates = Object.keys(contract().doc.paths);
  // A literal path (POST /integrations/gcp) wins over a template that would also match it (/integrations/{token}).
  const literal = templates.find((template) => template === bare && (!method || contract().doc.paths[template]?.[method.toLowerCase()]));
  const match = literal ?? templates.find((template) => {
    const t = template.split('/');
    return t.length === parts.length && t.every((seg, i) => seg.startsWith('{') || seg === parts[i]);
  });
  if (!match) throw new Error(`no contract path for ${path}`);
  return match;
}

export function contractOperation(method: string, path: string): Operation {
  const op = contract().doc.paths[contractPath(path, method)]?.[method.toLowerCase()];
  if (!op) throw new Error(`contract has no ${method} ${path}`);
  return op;
}

/** Errors as a list of strings, [] when the body matches the schema the contract declares for this status. */
export function contractViolations(method: string, path: string, status: number, body: unknown): string[] {
  const op = contractOperation(method, path);
  const response = op.responses[String(status)];
  if (!response) return [`contract declares no ${status} for ${method} ${contractPath(path, method)} (declares ${Object.keys(op.responses).join(', ')})`];
  const schema = response.content?.['application/json']?.schema as { $ref?: string } | undefined;
  if (status === 204) return body === undefined ? [] : ['204 must have an empty body'];
  if (!schema) return [];
  const key = `${method} ${contractPath(path, method)} ${status}`;
  let validate = validators.get(key);
  if (!validate) {
    const rewritten = JSON.parse(JSON.stringify(schema).replace(/"#\/components\//g, '"contract#/components/'));
    validate = contract().ajv.compile(rewritten);
    validators.set(key, validate);
  }
  return validate(body) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message}`);
}

/**
 * One call through `call`; when the contract declares the response's status for that operation (it declares no
 * 401/403 for most), the body must match the contract's schema. Skipped where the contract file is absent.
 */
export async function conformingCall(
  app: FastifyInstance,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  url: string,
  options: { token: string; body?: unknown },
): Promise<Response> {
  const res = await call(app, method, url, options);
  if (!contractMissing && contractOperation(method, url.split('?')[0] as string).responses[String(res.status)]) {
    assert.deepEqual(contractViolations(method, url, res.status, res.body), [], `${method} ${url} → ${res.status} ${res.raw}`);
  }
  return res;
}
