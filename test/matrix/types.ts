import type { FastifyInstance } from 'fastify';
import type { Store } from '../../src/store/database.ts';
import type { MspFixture } from '../helpers/app.ts';

/**
 * One area of the security matrix (test/security.test.ts): its routes, how to fill its path parameters, and
 * what each tenant needs before the routes can be called. Each area lives in its own file in test/matrix/.
 */
export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RouteSpec {
  method: Method;
  /** The OpenAPI path; each `{param}` is filled from the area's params. */
  path: string;
  scope: 'read' | 'write';
  /** Status for the owner with a sufficient token and `body`. */
  ok: number;
  /** A body the caller could send successfully (built fresh each time, so unique fields stay unique). */
  body?: (w: World) => unknown;
  /** Bodies to probe tenant isolation with (default: `body`): another tenant gets the never-existed answer for each. */
  a5Bodies?: (w: World) => unknown[];
  /**
   * Whether accounts that are not MSPs may call it (A4 limits only managed-account, billing-rule and
   * billing-profile endpoints). Default false: non-MSPs get Vantage's exact 403.
   */
  openToNonMsp?: boolean;
  /** Per-route overrides of the area's params (e.g. POST sso_connection needs accounts without a connection). */
  params?: Record<string, ParamSpec>;
}

export interface ParamSpec {
  /** The i-th such resource of a tenant (the control test uses i = 0 and 1). */
  of: (t: Tenant, i: number) => string;
  /** A well-formed token that never existed. */
  neverExisted: string;
}

export interface Tenant extends MspFixture {
  managedAccounts: string[];
  /** Resources an area made in `prepare`, by name (e.g. `billing_profiles`). */
  extra: Record<string, string[]>;
}

export interface World {
  app: FastifyInstance;
  store: Store;
  /** The victim: an MSP with two managed accounts. */
  a: Tenant;
  /** The other tenant: an MSP with two managed accounts. */
  b: Tenant;
  /** Bearer credentials that must all be refused with invalid_token, by label. */
  badAuthorizations: Array<[string, string]>;
  /** read+write tokens of accounts that are not MSPs: a plain customer, and one of A's own managed accounts. */
  nonMsp: Array<[string, string]>;
}

export interface Area {
  routes: RouteSpec[];
  params?: Record<string, ParamSpec>;
  /** Runs for each tenant once its managed accounts exist; makes what the routes need (e.g. SSO connections). */
  prepare?: (app: FastifyInstance, store: Store, tenant: Tenant) => Promise<void>;
  /** Tables whose rows must not move when a request is refused. */
  tables?: string[];
}

let domainCounter = 0;
/** A unique registrable domain per call. */
export function uniqueDomain(prefix = 'probe'): string {
  domainCounter += 1;
  return `${prefix}-${process.pid}-${domainCounter}.example.com`;
}
