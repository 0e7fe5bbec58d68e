import { ProviderConnectionError, ProviderInvalidRequestError, ProviderRateLimitError, ProviderServerError, ProviderTimeoutError, ProviderAuthenticationError } from '../../src/providers/errors';
import { retryDelayMs, shouldRetry, type RetryPolicy } from '../../src/providers/retry';

const policy: RetryPolicy = { maxRetries: 2, baseDelayMs: 100, maxDelayMs: 1000 };
const d = { provider: 'X' };

describe('shouldRetry', () => {
  it('repeats throttling and connections never made, whatever the call', () => {
    expect(shouldRetry(new ProviderRateLimitError('x', d), 0, policy, false)).toBe(true);
    expect(shouldRetry(new ProviderConnectionError('x', { ...d, notSent: true }), 0, policy, false)).toBe(true);
  });

  it('repeats timeouts, resets and 5xx only for idempotent calls', () => {
    for (const error of [new ProviderTimeoutError('x', d), new ProviderServerError('x', d), new ProviderConnectionError('x', d)]) {
      expect(shouldRetry(error, 0, policy, true)).toBe(true);
      expect(shouldRetry(error, 0, policy, false)).toBe(false);
    }
  });

  it('never repeats authentication or parameter errors unless marked retryable', () => {
    expect(shouldRetry(new ProviderAuthenticationError('x', d), 0, policy, true)).toBe(false);
    expect(shouldRetry(new ProviderInvalidRequestError('x', d), 0, policy, true)).toBe(false);
    expect(shouldRetry(new ProviderAuthenticationError('x', { ...d, retryable: true }), 0, policy, false)).toBe(true);
  });

  it('stops after maxRetries', () => {
    expect(shouldRetry(new ProviderRateLimitError('x', d), 2, policy, true)).toBe(false);
  });
});

describe('retryDelayMs', () => {
  it('grows exponentially with equal jitter and a cap', () => {
    expect(retryDelayMs(0, policy, () => 0)).toBe(50);
    expect(retryDelayMs(0, policy, () => 1)).toBe(100);
    expect(retryDelayMs(2, policy, () => 0)).toBe(200);
    expect(retryDelayMs(10, policy, () => 1)).toBe(1000);
    expect(retryDelayMs(10, policy, () => 0)).toBe(500);
  });

  it('honours a longer retry-after from the provider', () => {
    expect(retryDelayMs(0, policy, () => 0, 700)).toBe(700);
  });
});
