import { ProviderConnectionError, type ProviderError } from './errors';

export interface RetryPolicy {
  /** Attempts after the first. */
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxRetries: 2, baseDelayMs: 200, maxDelayMs: 2_000 };

/**
 * Whether a failed attempt may be repeated. `attempt` counts from 0 (the first try).
 *
 * Only failures that cannot have changed anything at the provider are repeated for a call that is not idempotent:
 * a connection never made, a throttling answer, or an error the client marked retryable (a nonce clash). A timeout
 * or a 5xx on a revoke may have revoked; repeating it would turn success into a "wrong state" refusal, so those
 * surface to the caller instead.
 */
export function shouldRetry(error: ProviderError, attempt: number, policy: RetryPolicy, idempotent: boolean): boolean {
  if (attempt >= policy.maxRetries) return false;
  switch (error.kind) {
    case 'rate_limit':
      return true;
    case 'connection':
      return idempotent || (error instanceof ProviderConnectionError && error.notSent);
    case 'timeout':
    case 'server':
      return idempotent || error.retryable;
    default:
      return error.retryable;
  }
}

/**
 * Exponential backoff with "equal jitter": half the capped exponential step, plus a random share of the other
 * half, so concurrent clients spread out but none retries immediately. A provider's own retry-after wins when
 * it is longer.
 */
export function retryDelayMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random, retryAfterMs?: number): number {
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  const delay = step / 2 + random() * (step / 2);
  return Math.round(Math.max(delay, retryAfterMs ?? 0));
}
