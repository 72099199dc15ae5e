import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Config } from '../config.ts';
import { errors } from '../domain/errors.ts';
import { surfaceOf, type Surface } from './surface.ts';

/**
 * R3: per-token rate limits on every /v2 request and, keyed by client address, on /oauth/*. Runs on onRequest
 * before authentication, so a throttled request does nothing: no body read, no token lookup, no handler.
 * Counters live in Redis when `config.redisUrl` is set (shared by every Steward process), else in memory.
 */
export async function registerRateLimit(app: FastifyInstance, config: Config): Promise<void> {
  if (config.rateLimitMax === 0) return;
  const { limiter, failures } = await createLimiters(app, config);
  const max = config.rateLimitMax;
  const windowSeconds = config.rateLimitWindowSeconds;

  app.addHook('onRequest', async (request, reply) => {
    const surface = surfaceOf(request);
    if (!surface) return;
    const { key, per } = bucketOf(request, surface);
    // Every made-up token gets a bucket of its own, so guessing is also limited per address: an address whose
    // credentials (bearer tokens, OAuth client secrets) were refused `max` times in a window is refused outright
    // until the window ends.
    await refuseGuessers(failures, request.ip, { max, windowSeconds });
    let result: RateLimiterRes;
    try {
      result = await limiter.consume(key);
    } catch (rejection) {
      // The library rejects with a RateLimiterRes when over the limit; anything else is a store failure that the
      // insurance limiter did not absorb, and is a genuine 500.
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      const retryAfter = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      const headers = { ...limitHeaders(max, rejection), 'retry-after': String(retryAfter) };
      throw errors.rateLimited({ max, windowSeconds, per }, retryAfter, headers);
    }
    reply.headers(limitHeaders(max, result));
  });

  app.addHook('onResponse', async (request, reply) => {
    if (reply.statusCode !== 401 || !surfaceOf(request)) return;
    await failures.penalty(failureKey(request.ip)).catch((error: unknown) => request.log.warn({ err: error }, 'could not count a failed authentication'));
  });
}

const failureKey = (ip: string) => `v2:authfail:${ip}`;

async function refuseGuessers(failures: RateLimiterAbstract, ip: string, limit: { max: number; windowSeconds: number }): Promise<void> {
  const state = await failures.get(failureKey(ip)).catch(() => null); // a store failure never refuses anyone
  if (!state || state.consumedPoints < limit.max) return;
  const retryAfter = Math.max(1, Math.ceil(state.msBeforeNext / 1000));
  const headers = { ...limitHeaders(limit.max, state), 'retry-after': String(retryAfter) };
  throw errors.tooManyRefusedCredentials(limit, retryAfter, headers);
}

/** The per-bucket limiter, and the per-address count of refused credentials; both in Redis when configured. */
async function createLimiters(app: FastifyInstance, config: Config): Promise<{ limiter: RateLimiterAbstract; failures: RateLimiterAbstract }> {
  const options = { points: config.rateLimitMax, duration: config.rateLimitWindowSeconds, keyPrefix: 'steward:rl' };
  const failureOptions = { ...options, keyPrefix: 'steward:rl-fail' };
  if (!config.redisUrl) return { limiter: new RateLimiterMemory(options), failures: new RateLimiterMemory(failureOptions) };

  // No offline queue and a short command timeout: while Redis is down or stalled a command fails at once and the
  // insurance limiter (this process's memory) counts instead, so an outage never turns into slow requests or 500s.
  // The URL may carry ioredis options, e.g. ?keyPrefix=prod: to keep two deployments' counters apart.
  const redis = new Redis(config.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 500 });
  let healthy = true;
  redis.on('error', (error: Error) => {
    if (healthy) app.log.warn({ err: error }, 'Redis unreachable: rate limits are counted in this process until it is back');
    healthy = false;
  });
  redis.on('ready', () => {
    if (!healthy) app.log.info('Redis reachable again: rate limits are shared again');
    healthy = true;
  });
  app.addHook('onClose', async () => {
    redis.disconnect();
  });
  await firstConnection(redis);
  const shared = (o: typeof options) =>
    new RateLimiterRedis({ ...o, storeClient: redis, rejectIfRedisNotReady: true, insuranceLimiter: new RateLimiterMemory(o) });
  return { limiter: shared(options), failures: shared(failureOptions) };
}

/**
 * /v2 buckets are per bearer credential (its SHA-256, so the store never holds a token), or per client address
 * without one. /oauth buckets are always per address: the credential there is a client secret being guessed.
 */
function bucketOf(request: FastifyRequest, surface: Surface): { key: string; per: 'token' | 'client address' } {
  const authorization = request.headers.authorization?.trim();
  if (surface === 'v2' && authorization) {
    // The credential without its scheme, so `Bearer x` and `bearer  x` share one bucket.
    const credential = /^\S+\s+(\S+)$/.exec(authorization)?.[1] ?? authorization;
    return { key: `v2:token:${createHash('sha256').update(credential).digest('hex')}`, per: 'token' };
  }
  return { key: `${surface}:ip:${request.ip}`, per: 'client address' };
}

function limitHeaders(max: number, state: RateLimiterRes): Record<string, string> {
  return {
    'x-rate-limit-limit': String(max),
    'x-rate-limit-remaining': String(state.remainingPoints),
    // When the window refills, in Unix epoch seconds (rounded up: the bucket is not full before then).
    'x-rate-limit-reset': String(Math.ceil((Date.now() + state.msBeforeNext) / 1000)),
  };
}

/**
 * Waits (at most 2 s) for the first connection attempt to end, so a freshly started process counts in the shared
 * store from its first request. Failure is fine: the insurance limiter counts meanwhile and ioredis reconnects.
 */
async function firstConnection(redis: Redis): Promise<void> {
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      redis.off('ready', done).off('error', done);
      resolve();
    };
    const timer = setTimeout(done, 2000);
    redis.once('ready', done).once('error', done);
  });
}
