import type { FastifyError, FastifyInstance } from 'fastify';
import { DomainError, errors, vanishedReference } from '../domain/errors.ts';
import { describeValidationErrors } from './validation.ts';

/** The one renderer: every failure leaves as `{"errors": [...]}` with a truthful status (W6, W7). */
export function registerErrorHandling(app: FastifyInstance, bodyLimitBytes: number): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const failure = toDomainError(error, request.id, bodyLimitBytes, request.headers['content-type']);
    if (failure.status === 503) request.log.warn({ err: error }, 'request stopped: the database is busy or unavailable');
    else if (failure.status >= 500) request.log.error({ err: error }, 'request failed');
    return reply.code(failure.status).headers(failure.headers).send(errorBody(request.url, failure.messages));
  });
  const allowedMethods = methodsByPath(app);
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] as string;
    const allowed = allowedMethods(path);
    if (allowed.length > 0) {
      const message = `${request.method} is not allowed on ${path} (allowed: ${allowed.join(', ')})`;
      return reply.code(405).header('allow', allowed.join(', ')).send(errorBody(path, [message]));
    }
    return reply.code(404).send(errorBody(path, [`No route matches ${request.method} ${path}`]));
  });
}

/**
 * W6's `{"errors": [...]}` for an answer given outside any route's own error handler; under the OAuth paths the
 * RFC 6749 §5.2 `error` member comes too, as on every other OAuth error.
 */
export function errorBody(url: string, messages: string[]): { errors: string[]; error?: string; error_description?: string } {
  return /^\/(oauth|\.well-known)\//.test(url)
    ? { error: 'invalid_request', error_description: messages.join('; '), errors: messages }
    : { errors: messages };
}

/**
 * Which methods some route answers on a concrete path, for the 405 that tells a wrong method from a wrong path.
 * Patterns are collected as routes are added (`/v2/billing_rules/:billing_rule_token` → one segment per parameter).
 */
function methodsByPath(app: FastifyInstance): (path: string) => string[] {
  const routes: Array<{ pattern: RegExp; methods: string[] }> = [];
  app.addHook('onRoute', (route) => {
    const source = route.url
      .split('/')
      .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment === '*' ? '.*' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/');
    routes.push({ pattern: new RegExp(`^${source}/?$`), methods: [route.method].flat() });
  });
  return (path) => [...new Set(routes.filter((r) => r.pattern.test(path)).flatMap((r) => r.methods))].sort();
}

function toDomainError(error: FastifyError, requestId: string, bodyLimitBytes: number, contentType: string | undefined): DomainError {
  if (error instanceof DomainError) return error;
  const vanished = vanishedReference(error);
  if (vanished) return vanished;
  if (error.validation) {
    const context = error.validationContext ?? 'request';
    const messages = describeValidationErrors(error.validation as Parameters<typeof describeValidationErrors>[0], context);
    return errors.invalid(...(messages.length > 0 ? messages : [`${context} is invalid`]));
  }
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return errors.unsupportedMediaType(contentType ? `"${contentType.slice(0, 100)}"` : '(none)');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return errors.bodyTooLarge(bodyLimitBytes);
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return errors.invalid(`request body is not valid JSON: ${error.message}`);
  }
  if (error instanceof SyntaxError || error.name === 'SyntaxError') return errors.invalid(`request body is not valid JSON: ${error.message}`);
  const status = error.statusCode ?? 500;
  // 412 and 416 come from conditional and range requests for the console's files.
  if (status >= 400 && status < 500) return new DomainError(status === 412 || status === 413 || status === 415 || status === 416 ? status : 400, [error.message]);
  return errors.internal(requestId);
}
