import { ConsecutiveFailureBreaker } from '../../src/providers/breaker';
import { ProviderServerError, ProviderUnavailableError } from '../../src/providers/errors';

const failure = new ProviderServerError('boom', { provider: 'ETC' });

describe('ConsecutiveFailureBreaker', () => {
  let now = 0;
  const breaker = () => new ConsecutiveFailureBreaker({ provider: 'ETC', failureThreshold: 3, resetAfterMs: 1000, now: () => now });
  beforeEach(() => {
    now = 0;
  });

  it('opens after the threshold of consecutive failures and refuses at once', () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) {
      b.before();
      b.failure(failure);
    }
    expect(b.status).toBe('open');
    expect(() => b.before()).toThrow(ProviderUnavailableError);
    expect(() => b.before()).toThrow(/last 3 calls failed; the next attempt is allowed in 1 s/);
  });

  it('a success in between resets the count', () => {
    const b = breaker();
    b.failure(failure);
    b.failure(failure);
    b.success();
    b.failure(failure);
    expect(b.status).toBe('closed');
  });

  it('lets one trial through after the reset time; success closes, failure reopens', () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.failure(failure);
    now = 1000;
    b.before();
    expect(b.status).toBe('half-open');
    expect(() => b.before()).toThrow(/trial call/);
    b.failure(failure);
    expect(b.status).toBe('open');
    now = 2000;
    b.before();
    b.success();
    expect(b.status).toBe('closed');
    expect(() => b.before()).not.toThrow();
  });
});
