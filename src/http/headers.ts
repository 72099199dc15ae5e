import type { FastifyRequest } from 'fastify';

/**
 * How many times a header was sent. Node keeps only the first Authorization and joins other repeats with ", ", so
 * a request that sends a single-valued header twice is ambiguous and is refused by whoever reads that header.
 */
export function timesSent(request: FastifyRequest, name: string): number {
  return request.raw.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === name).length;
}
