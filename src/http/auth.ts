import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Actor } from '../domain/audit.ts';
import { authenticate, authorize, type Principal, type Scope } from '../domain/auth.ts';
import { errors } from '../domain/errors.ts';
import type { Database } from '../store/schema.ts';
import { timesSent } from './headers.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What a route needs; routes without it are public. */
    auth?: { scope: Scope; msp: boolean };
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** Authenticates before the body is read, so a refused request never reaches validation or the database. */
export function registerAuth(app: FastifyInstance, db: Kysely<Database>): void {
  app.addHook('onRequest', async (request) => {
    const need = request.routeOptions.config.auth;
    if (!need) return;
    // Node keeps only the first of repeated Authorization headers; a request carrying two is ambiguous, so refuse it.
    if (timesSent(request, 'authorization') > 1) throw errors.invalidToken('send exactly one Authorization header');
    const principal = await authenticate(db, request.headers.authorization);
    authorize(principal, need);
    request.principal = principal;
  });
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error(`route ${request.routeOptions.url} has no auth config`);
  return request.principal;
}

/** The MSP a request acts for, as the domain's managed-account and SSO functions take it. */
export function parentOf(request: FastifyRequest): { id: number; token: string } {
  const principal = principalOf(request);
  return { id: principal.accountId, token: principal.accountToken };
}

/** Who the audit log names for a change made by this request: its bearer token (and the OAuth client it came from). */
export function actorOf(request: FastifyRequest): Actor {
  const principal = principalOf(request);
  return { tokenId: principal.tokenId, name: principal.tokenDescription, oauthClientId: principal.oauthClientId, source: 'api' };
}
