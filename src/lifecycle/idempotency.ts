import { createHash } from 'node:crypto';
import { GraphQLError } from 'graphql';
import type { Caller } from '../auth/caller';
import type { UserError } from '../domain/model';
import { UserErrorCode } from '../domain/model';
import type { Store } from '../store/types';

export interface IdempotencyOptions {
  /** How long a finished operation's result is replayed. */
  ttlMs?: number;
  /** How long a running operation holds its key before another replica may assume it died. */
  leaseMs?: number;
  /** How long a second request with a running key waits for the first to finish. */
  waitMs?: number;
  pollMs?: number;
}

/** Canonical JSON (sorted keys) so the same input always hashes the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined && v !== null)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function inputHash(operation: string, input: Record<string, unknown>): string {
  const { idempotencyKey: _ignored, ...rest } = input;
  return createHash('sha256').update(`${operation}\n${canonical(rest)}`).digest('hex');
}

/**
 * Where a caller's keys live: keys are per caller, so another caller's use of the same key never replays, blocks or
 * reveals the first caller's result. With authentication off every caller is the same one.
 */
export function keyScope(caller: Pick<Caller, 'sub' | 'tenant'>): string {
  return caller.sub === null ? 'anonymous' : `sub:${caller.tenant ?? ''}:${caller.sub}`;
}

/**
 * Idempotency keys for mutations, scoped to the caller (see keyScope): the first request with a key runs; the same key with the same input replays
 * the stored result (for `ttlMs`, 48 h by default); a concurrent request with that key waits for the first one
 * instead of calling the provider again; the same key with other input is refused.
 */
export class Idempotency {
  private readonly ttlMs: number;
  private readonly leaseMs: number;
  private readonly waitMs: number;
  private readonly pollMs: number;

  constructor(
    private readonly store: Store,
    options: IdempotencyOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 48 * 3600_000;
    this.leaseMs = options.leaseMs ?? 120_000;
    this.waitMs = options.waitMs ?? 30_000;
    this.pollMs = options.pollMs ?? 50;
  }

  /**
   * Runs `execute` at most once per key. Results must be plain JSON. A thrown error (provider down, timeout)
   * frees the key, so the client can retry with it.
   */
  async run<T extends { userErrors: UserError[] }>(
    caller: Pick<Caller, 'sub' | 'tenant'>,
    clientKey: string | null | undefined,
    operation: string,
    input: Record<string, unknown>,
    execute: () => Promise<T>,
    refuse: (error: UserError) => T,
  ): Promise<T> {
    if (!clientKey) return execute();
    const key = `${keyScope(caller)}\n${clientKey}`;
    const hash = inputHash(operation, input);
    const giveUpAt = Date.now() + this.waitMs;
    for (;;) {
      const claim = await this.store.operations.claim({ key, operation, inputHash: hash, leaseMs: this.leaseMs, ttlMs: this.ttlMs });
      switch (claim.state) {
        case 'done':
          return claim.result as T;
        case 'mismatch':
          return refuse({
            code: UserErrorCode.IDEMPOTENCY_KEY_REUSED,
            field: ['input', 'idempotencyKey'],
            message:
              claim.operation === operation
                ? 'this idempotencyKey was already used with different input; use a new key for a new request'
                : `this idempotencyKey was already used for ${claim.operation}; use a new key for a new request`,
          });
        case 'pending':
          if (Date.now() > giveUpAt) {
            throw new GraphQLError('another request with this idempotencyKey is still running; retry shortly', {
              extensions: { code: 'IDEMPOTENCY_KEY_IN_USE' },
            });
          }
          await new Promise((resolve) => setTimeout(resolve, this.pollMs));
          continue;
        case 'claimed': {
          let result: T;
          try {
            result = await execute();
          } catch (error) {
            await this.store.operations.release(key);
            throw error;
          }
          await this.store.operations.complete(key, result);
          return result;
        }
      }
    }
  }
}
