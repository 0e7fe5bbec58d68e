import { GraphQLError } from 'graphql';
import Redis from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Caller } from '../auth/caller';
import type { Logger } from '../logger';

/** How many GraphQL operations one caller may start per minute, over HTTP and WebSocket together. */
export interface OperationRateLimiter {
  /**
   * Counts one operation of `caller`; throws a GraphQLError with code RATE_LIMITED (`retryAfter` seconds, and an
   * HTTP 429 with `Retry-After` when answered over HTTP) once the caller is over the limit.
   */
  consume(caller: Caller): Promise<void>;
  close(): Promise<void>;
}

/** The caller's bucket: its `sub` and tenant, or its address when anonymous (Caller.key). */
export function rateLimitKey(caller: Caller): string {
  return caller.sub !== null ? `${caller.key}|tenant:${caller.tenant ?? ''}` : caller.key;
}

export function rateLimitedError(retryAfterSeconds: number, perMinute: number): GraphQLError {
  return new GraphQLError(`Too many operations: at most ${perMinute} per minute per caller; retry in ${retryAfterSeconds} s`, {
    extensions: {
      code: 'RATE_LIMITED',
      retryAfter: retryAfterSeconds,
      // Read by Apollo Server for the HTTP answer, never sent in the body.
      http: { status: 429, headers: new Map([['retry-after', String(retryAfterSeconds)]]) },
    },
  });
}

/**
 * RATE_LIMIT_PER_MINUTE per caller: in Redis when REDIS_URL is set (one count shared by every replica), in memory
 * otherwise. `perMinute` 0: no limit. When Redis cannot be reached the operation is let through (and logged): the
 * limit protects the API from a noisy caller, it must not take the API down with Redis.
 */
export function createOperationRateLimiter(options: { perMinute: number; redisUrl?: string; logger: Logger; keyPrefix?: string }): OperationRateLimiter {
  if (options.perMinute <= 0) return { consume: async () => undefined, close: async () => undefined };
  let redis: Redis | undefined;
  let limiter: RateLimiterAbstract;
  const shape = { points: options.perMinute, duration: 60, keyPrefix: options.keyPrefix ?? 'esign:operations' };
  if (options.redisUrl) {
    redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 1 });
    redis.on('error', (error: Error) => options.logger.warn({ err: error.message }, 'rate limit: Redis connection error'));
    limiter = new RateLimiterRedis({ storeClient: redis, ...shape });
  } else {
    limiter = new RateLimiterMemory(shape);
  }
  return {
    async consume(caller) {
      try {
        await limiter.consume(rateLimitKey(caller), 1);
      } catch (rejection) {
        if (rejection instanceof RateLimiterRes) {
          throw rateLimitedError(Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)), options.perMinute);
        }
        options.logger.warn({ err: (rejection as Error)?.message }, 'rate limit: the count could not be updated; the operation is let through');
      }
    },
    async close() {
      if (redis) await redis.quit().catch(() => redis?.disconnect());
    },
  };
}
