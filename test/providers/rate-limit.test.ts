import { randomBytes } from 'crypto';
import pino from 'pino';
import { InMemoryRateLimiter, RateLimitAbortedError, RedisRateLimiter, reserve, type BucketState } from '../../src/providers/rate-limit';

const TEST_REDIS_URL = process.env.TEST_REDIS_URL;

describe('reserve (the bucket arithmetic)', () => {
  const shape = { ratePerSecond: 20, burst: 1 };

  it('spaces callers 1/rate apart in the order they ask, with burst 1', () => {
    let state: BucketState | undefined;
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = reserve(state, 1_000, 1, shape);
      state = r.state;
      waits.push(r.waitMs);
    }
    expect(waits).toEqual([0, 50, 100, 150, 200]);
  });

  it('never lets more than rate calls start in any one-second window', () => {
    let state: BucketState | undefined;
    const starts: number[] = [];
    // 60 callers arriving at irregular moments.
    for (let i = 0; i < 60; i++) {
      const now = Math.floor(i * 13.7);
      const r = reserve(state, now, 1, shape);
      state = r.state;
      starts.push(now + r.waitMs);
    }
    starts.sort((a, b) => a - b);
    for (let i = 0; i + 20 < starts.length; i++) expect(starts[i + 20] - starts[i]).toBeGreaterThanOrEqual(1000);
  });

  it('refills with time up to the burst, and takes n tokens at once', () => {
    const full = reserve(undefined, 0, 5, { ratePerSecond: 10, burst: 5 });
    expect(full.waitMs).toBe(0);
    expect(reserve(full.state, 0, 1, { ratePerSecond: 10, burst: 5 }).waitMs).toBe(100);
    // After a long quiet spell the bucket holds `burst`, not more.
    const later = reserve(full.state, 60_000, 6, { ratePerSecond: 10, burst: 5 });
    expect(later.waitMs).toBe(100);
  });
});

describe('InMemoryRateLimiter', () => {
  it('keeps one bucket per key and waits for real', async () => {
    const limiter = new InMemoryRateLimiter({ ratePerSecond: 100, burst: 1 });
    const started = Date.now();
    const done: number[] = [];
    await Promise.all(Array.from({ length: 6 }, () => limiter.acquire('a').then(() => done.push(Date.now() - started))));
    await limiter.acquire('b');
    // Lower bounds only: the fifth follower cannot start before 5 × 10 ms.
    expect(Math.max(...done)).toBeGreaterThanOrEqual(49);
    await limiter.close();
  });

  it('rejects a wait whose signal aborts, and refuses nonsense', async () => {
    const limiter = new InMemoryRateLimiter({ ratePerSecond: 1, burst: 1 });
    await limiter.acquire('k');
    const controller = new AbortController();
    const waiting = limiter.acquire('k', 1, controller.signal);
    controller.abort();
    await expect(waiting).rejects.toBeInstanceOf(RateLimitAbortedError);
    await expect(limiter.acquire('k', 0)).rejects.toThrow('n must be a positive integer, got 0');
    expect(() => new InMemoryRateLimiter({ ratePerSecond: 0, burst: 1 })).toThrow('ratePerSecond must be a positive number');
  });
});

if (!TEST_REDIS_URL) process.stdout.write('[rate-limit] Redis variant skipped: TEST_REDIS_URL is not set\n');

(TEST_REDIS_URL ? describe : describe.skip)('RedisRateLimiter (shared by replicas)', () => {
  const url = TEST_REDIS_URL as string;
  const prefix = `test:ratelimit:${randomBytes(6).toString('hex')}:`;

  it('hands out the same schedule as reserve(), from one bucket shared by two instances', async () => {
    const shape = { ratePerSecond: 50, burst: 1 };
    const a = new RedisRateLimiter(url, shape, prefix);
    const b = new RedisRateLimiter(url, shape, prefix);
    try {
      const started = Date.now();
      const done: number[] = [];
      await Promise.all(
        Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).acquire('ChannelBatchCancelFlows').then(() => done.push(Date.now() - started))),
      );
      // Eight calls from two replicas through one 50/s bucket: the last cannot start before 7 × 20 ms.
      expect(Math.max(...done)).toBeGreaterThanOrEqual(139);
      // Another key is another bucket.
      const other = Date.now();
      await a.acquire('DescribeFlowDetailInfo');
      expect(Date.now() - other).toBeLessThan(1000);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('RedisRateLimiter without Redis', () => {
  it('refuses to hand out a call it cannot count, and logs the connection errors instead of printing them', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    const limiter = new RedisRateLimiter('redis://:hunter2-secret@127.0.0.1:1', { ratePerSecond: 20, burst: 1 }, 'test:', logger);
    try {
      await expect(limiter.acquire('ChannelBatchCancelFlows')).rejects.toThrow();
      expect(lines.length).toBeGreaterThan(0);
      expect(JSON.parse(lines[0])).toMatchObject({ msg: 'rate limiter redis connection error', err: expect.stringContaining('ECONNREFUSED') });
      expect(lines.join('\n')).not.toContain('hunter2');
    } finally {
      await limiter.close();
    }
  });
});
