import type { FastifyRequest } from 'fastify';

/** The parts of the server that per-request policies (rate limits, caching) tell apart. */
export type Surface = 'v2' | 'oauth';

/**
 * Which surface a request is for, judged as the router judges it: the matched route's own pattern when there is
 * one, else the request path with its scheme and host (absolute-form targets) removed and percent-decoding
 * applied. The raw URL is not enough: the router matches `/%762/me` as `/v2/me`.
 */
export function surfaceOf(request: FastifyRequest): Surface | null {
  const path = request.routeOptions.url ?? decodedPath(request.url);
  if (path === '/v2' || path.startsWith('/v2/')) return 'v2';
  if (path === '/oauth' || path.startsWith('/oauth/')) return 'oauth';
  return null;
}

function decodedPath(url: string): string {
  const path = url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '').split(/[?#]/, 1)[0] ?? '';
  try {
    return decodeURIComponent(path);
  } catch {
    return path; // the router refuses it as malformed anyway
  }
}
