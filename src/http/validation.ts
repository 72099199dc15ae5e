import { Ajv, type ErrorObject } from 'ajv';
import type { FastifySchemaCompiler } from 'fastify';

/**
 * Bodies are validated exactly as sent (no type coercion: `"name": 5` is an error, not "5").
 * Query strings and path parameters arrive as text, so those are coerced to the schema's types.
 */
const options = { allErrors: false, removeAdditional: false, useDefaults: true, strict: false } as const;
const bodyAjv = new Ajv({ ...options, coerceTypes: false });
const textAjv = new Ajv({ ...options, coerceTypes: true });

export const validatorCompiler: FastifySchemaCompiler<object> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? bodyAjv : textAjv).compile(schema) as ReturnType<FastifySchemaCompiler<object>>;

/** Ajv errors as W6 messages that name the field: `billing_rule_tokens[0] must be a string`. */
export function describeValidationErrors(errors: ErrorObject[], context: string): string[] {
  const messages = errors
    .filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'if')
    .map((e) => {
      const path = fieldPath(e.instancePath);
      const field = path || context;
      switch (e.keyword) {
        case 'required':
          return `${path ? `${path}.` : ''}${String(e.params.missingProperty)} is required`;
        case 'type': {
          const type = String(e.params.type).split(',')[0];
          const article = type === 'integer' || type === 'array' || type === 'object' ? 'an' : 'a';
          return `${field} must be ${article} ${type}`;
        }
        case 'minimum':
          return `${field} must be greater than or equal to ${String(e.params.limit)}`;
        case 'maximum':
          return `${field} must be less than or equal to ${String(e.params.limit)}`;
        case 'maxLength':
          return `${field} is too long (maximum is ${String(e.params.limit)} characters)`;
        case 'minLength':
          return `${field} is too short (minimum is ${String(e.params.limit)} characters)`;
        case 'maxItems':
          return `${field} has too many entries (maximum is ${String(e.params.limit)})`;
        case 'enum':
          return `${field} must be one of ${(e.params.allowedValues as unknown[]).join(', ')}`;
        default:
          return `${field} ${e.message ?? 'is invalid'}`;
      }
    });
  return [...new Set(messages)];
}

function fieldPath(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : path ? `${path}.${part}` : part), '');
}
