import type { FastifyRequest } from 'fastify';

export const MAX_LIMIT = 1000;
export const DEFAULT_LIMIT = 100;

export interface Page {
  page: number;
  limit: number;
}

/** M8: defaults, and a limit above the maximum clamped to it. */
export function pageOf(query: { page?: number; limit?: number }, max = MAX_LIMIT, fallback = DEFAULT_LIMIT): Page {
  return { page: query.page ?? 1, limit: Math.min(query.limit ?? fallback, max) };
}

export interface Links {
  self: string;
  first: string;
  next: string | null;
  last: string;
  prev: string | null;
}

/** Absolute links from the public origin, keeping every other query parameter the caller sent (M8, C06). */
export function pageLinks(request: FastifyRequest, origin: string, page: Page, total: number): Links {
  // Only the path and query come from the request: an absolute-form target (GET http://elsewhere/…) must not
  // put someone else's host into our links, and a fragment is not ours to echo.
  const target = new URL(request.url, origin);
  const self = new URL(target.pathname + target.search, origin);
  const last = Math.max(1, Math.ceil(total / page.limit));
  const at = (n: number) => {
    const url = new URL(self);
    url.searchParams.set('page', String(n));
    return url.toString();
  };
  return {
    self: self.toString(),
    first: at(1),
    next: page.page < last ? at(page.page + 1) : null,
    last: at(last),
    prev: page.page > 1 ? at(Math.min(page.page - 1, last)) : null,
  };
}
