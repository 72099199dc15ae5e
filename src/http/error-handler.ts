import type { FastifyError, FastifyInstance } from 'fastify';
import { DomainError, errors } from '../domain/errors.ts';
import { describeValidationErrors } from './validation.ts';

/** The one renderer: every failure leaves as `{"errors": [...]}` with a truthful status (W6, W7). */
export function registerErrorHandling(app: FastifyInstance, bodyLimitBytes: number): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const failure = toDomainError(error, request.id, bodyLimitBytes, request.headers['content-type']);
    if (failure.status >= 500) request.log.error({ err: error }, 'request failed');
    return reply.code(failure.status).headers(failure.headers).send({ errors: failure.messages });
  });
  app.setNotFoundHandler((request, reply) => {
    return reply.code(404).send({ errors: [`No route matches ${request.method} ${request.url.split('?')[0]}`] });
  });
}

function toDomainError(error: FastifyError, requestId: string, bodyLimitBytes: number, contentType: string | undefined): DomainError {
  if (error instanceof DomainError) return error;
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
  if (status >= 400 && status < 500) return new DomainError(status === 413 || status === 415 ? status : 400, [error.message]);
  return errors.internal(requestId);
}
