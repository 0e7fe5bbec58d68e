import Redis from 'ioredis';
import { silentLogger, type Logger } from '../logger';

/**
 * Pacing of provider calls with token buckets. A provider's documented limit ("20 requests/second per action") is a
 * bucket per key; every caller asks for tokens before it sends, and is told how long to wait instead of being
 * refused. The same arithmetic runs in process ({@link InMemoryRateLimiter}) and, for several replicas sharing one
 * provider account, atomically in Redis over a shared key ({@link RedisRateLimiter}).
 */
export interface RateLimiter {
  /**
   * Takes `n` tokens (default 1) from the bucket `key`, resolving once the caller may send. Waiters are served in
   * the order they asked: each one reserves its slot, so a queue of callers is spaced evenly instead of polling.
   * Rejects with {@link RateLimitAbortedError} when `signal` aborts first (the reserved slot is not given back).
   */
  acquire(key: string, n?: number, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** The shape of one bucket. */
export interface BucketShape {
  /** Tokens added per second: the sustained rate. */
  ratePerSecond: number;
  /**
   * Tokens a full bucket holds: how many calls may leave back to back after a quiet spell. 1 spaces every call
   * `1/rate` apart, which can never exceed "N per second" in any one-second window, whatever the window's phase.
   */
  burst: number;
}

export interface BucketState {
  /** May be negative: slots already promised to waiting callers. */
  tokens: number;
  /** When `tokens` was last brought up to date, ms. */
  updatedMs: number;
}

export class RateLimitAbortedError extends Error {
  override readonly name = 'RateLimitAbortedError';
}

function checkShape(shape: BucketShape): void {
  if (!(shape.ratePerSecond > 0) || !Number.isFinite(shape.ratePerSecond)) {
    throw new RangeError(`ratePerSecond must be a positive number, got ${shape.ratePerSecond}`);
  }
  if (!(shape.burst >= 1) || !Number.isFinite(shape.burst)) throw new RangeError(`burst must be at least 1, got ${shape.burst}`);
}

/**
 * The bucket arithmetic, pure so it can be tested and mirrored in Lua: refill for the time elapsed (capped at
 * `burst`), take `n` (going below zero reserves future tokens) and say how long the caller must wait for its share.
 */
export function reserve(state: BucketState | undefined, nowMs: number, n: number, shape: BucketShape): { state: BucketState; waitMs: number } {
  let tokens = state?.tokens ?? shape.burst;
  let updatedMs = state?.updatedMs ?? nowMs;
  if (nowMs > updatedMs) {
    tokens = Math.min(shape.burst, tokens + ((nowMs - updatedMs) * shape.ratePerSecond) / 1000);
    updatedMs = nowMs;
  }
  tokens -= n;
  if (tokens >= 0) return { state: { tokens, updatedMs }, waitMs: 0 };
  const waitMs = Math.ceil((-tokens * 1000) / shape.ratePerSecond);
  // The wait is rounded up to whole ms; the bucket is charged for the rounding too, so the next caller is spaced
  // from when this one really starts and no window ever holds more than the rate.
  return { state: { tokens: -(waitMs * shape.ratePerSecond) / 1000, updatedMs }, waitMs };
}

export type ShapeFor = BucketShape | ((key: string) => BucketShape);

const shapeOf = (shapes: ShapeFor, key: string): BucketShape => (typeof shapes === 'function' ? shapes(key) : shapes);

function validN(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be a positive integer, got ${n}`);
  return n;
}

/** Sleeps `ms`, or rejects as soon as `signal` aborts. */
function wait(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 && !signal?.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new RateLimitAbortedError('rate-limit wait aborted'));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new RateLimitAbortedError('rate-limit wait aborted'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Buckets in this process's memory: right for one replica, or for limits that are per replica anyway. */
export class InMemoryRateLimiter implements RateLimiter {
  private readonly buckets = new Map<string, BucketState>();
  private readonly now: () => number;

  constructor(
    private readonly shapes: ShapeFor,
    options: { now?: () => number } = {},
  ) {
    if (typeof shapes !== 'function') checkShape(shapes);
    this.now = options.now ?? Date.now;
  }

  async acquire(key: string, n = 1, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw new RateLimitAbortedError('rate-limit wait aborted');
    const shape = shapeOf(this.shapes, key);
    checkShape(shape);
    const { state, waitMs } = reserve(this.buckets.get(key), this.now(), validN(n), shape);
    this.buckets.set(key, state);
    await wait(waitMs, signal);
  }

  async close(): Promise<void> {
    this.buckets.clear();
  }
}

/**
 * {@link reserve} in Lua, run atomically by Redis over one hash per bucket. Time comes from the Redis server, so
 * replicas with skewed clocks still share one schedule. The key expires once the bucket would be full again.
 */
export const TOKEN_BUCKET_LUA = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate / 1000)
  ts = now
end
tokens = tokens - n
local wait = 0
if tokens < 0 then
  wait = math.ceil(-tokens * 1000 / rate)
  tokens = -(wait * rate) / 1000
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)
return wait
`;

type TokenBucketRedis = Redis & { tokenBucket(key: string, rate: string, burst: string, n: string): Promise<number> };

/**
 * Buckets shared by every replica through Redis: the limit holds for the provider account as a whole, however many
 * instances of the API send on its behalf. Same contract and arithmetic as {@link InMemoryRateLimiter}.
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly redis: TokenBucketRedis;
  private readonly ownsClient: boolean;

  /**
   * @param redis a URL (the limiter opens and closes its own connection) or a client the caller keeps owning
   * @param prefix namespaces the keys, e.g. per deployment
   * @param logger where the connection's errors go (an own connection only); while Redis is unreachable `acquire`
   *   rejects, so callers stop sending rather than exceed a budget they cannot see
   */
  constructor(
    redis: string | Redis,
    private readonly shapes: ShapeFor,
    private readonly prefix = 'ratelimit:',
    logger: Logger = silentLogger,
  ) {
    if (typeof shapes !== 'function') checkShape(shapes);
    this.ownsClient = typeof redis === 'string';
    const client = typeof redis === 'string' ? new Redis(redis, { maxRetriesPerRequest: 2 }) : redis;
    // Without a listener ioredis prints each connection error to the console, unstructured.
    if (this.ownsClient) client.on('error', (error: Error) => logger.warn({ err: error.message }, 'rate limiter redis connection error'));
    if (!('tokenBucket' in client)) client.defineCommand('tokenBucket', { numberOfKeys: 1, lua: TOKEN_BUCKET_LUA });
    this.redis = client as unknown as TokenBucketRedis;
  }

  async acquire(key: string, n = 1, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw new RateLimitAbortedError('rate-limit wait aborted');
    const shape = shapeOf(this.shapes, key);
    checkShape(shape);
    const waitMs = await this.redis.tokenBucket(`${this.prefix}${key}`, String(shape.ratePerSecond), String(shape.burst), String(validN(n)));
    await wait(Number(waitMs), signal);
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
