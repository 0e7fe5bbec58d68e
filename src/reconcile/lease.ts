import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { silentLogger, type Logger } from '../logger';
import type { LeaseRepository } from '../store/reconcile';

/**
 * One named lease held by one replica at a time: a periodic job runs only where `acquire` answered true. A holder
 * renews by acquiring again before its time runs out; a holder that dies simply stops renewing, and another replica
 * takes the lease once it expires.
 */
export interface Lease {
  /** Who this process is when it holds the lease (in logs and in the store/Redis value). */
  readonly holder: string;
  /** Takes or renews the lease for `ttlMs`; false while another holder's lease runs. */
  acquire(ttlMs: number): Promise<boolean>;
  /** Gives it up when held, so another replica can take over without waiting for the expiry. */
  release(): Promise<void>;
  close(): Promise<void>;
}

export function leaseHolder(): string {
  return `${process.pid}-${randomUUID().slice(0, 8)}`;
}

/** The lease as a row of the store's `leases` table (SQLite or PostgreSQL). */
export class StoreLease implements Lease {
  constructor(
    private readonly leases: LeaseRepository,
    private readonly name: string,
    readonly holder: string = leaseHolder(),
  ) {}

  acquire(ttlMs: number): Promise<boolean> {
    return this.leases.acquire(this.name, this.holder, ttlMs);
  }

  release(): Promise<void> {
    return this.leases.release(this.name, this.holder);
  }

  async close(): Promise<void> {
    // Nothing of its own to close: the store belongs to the app.
  }
}

/** Set when free, extended when ours: one atomic step, so two replicas never both believe they hold it. */
const ACQUIRE_LUA = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`;
const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

type LeaseRedis = Redis & {
  leaseAcquire(key: string, holder: string, ttlMs: string): Promise<number>;
  leaseRelease(key: string, holder: string): Promise<number>;
};

/** The lease as a Redis key with an expiry (when `REDIS_URL` is set): time is Redis's, so clock skew does not matter. */
export class RedisLease implements Lease {
  private readonly redis: LeaseRedis;

  constructor(
    url: string,
    private readonly key: string,
    readonly holder: string = leaseHolder(),
    logger: Logger = silentLogger,
  ) {
    const client = new Redis(url, { maxRetriesPerRequest: 2 });
    client.on('error', (error: Error) => logger.warn({ err: error.message }, 'lease redis connection error'));
    client.defineCommand('leaseAcquire', { numberOfKeys: 1, lua: ACQUIRE_LUA });
    client.defineCommand('leaseRelease', { numberOfKeys: 1, lua: RELEASE_LUA });
    this.redis = client as LeaseRedis;
  }

  async acquire(ttlMs: number): Promise<boolean> {
    return (await this.redis.leaseAcquire(this.key, this.holder, String(Math.max(1, Math.round(ttlMs))))) === 1;
  }

  async release(): Promise<void> {
    await this.redis.leaseRelease(this.key, this.holder);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
