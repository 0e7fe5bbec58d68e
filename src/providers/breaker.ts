import { ProviderUnavailableError, type ProviderError } from './errors';
import type { CircuitBreaker } from './http';

export interface BreakerOptions {
  provider: string;
  /** Consecutive failed calls that open the circuit. */
  failureThreshold?: number;
  /** How long the circuit stays open before one trial call is let through. */
  resetAfterMs?: number;
  now?: () => number;
}

type State = { name: 'closed'; failures: number } | { name: 'open'; until: number } | { name: 'half-open'; trial: boolean };

/**
 * Opens after `failureThreshold` consecutive failed calls (timeouts, connection failures, 5xx, throttling) and
 * then answers PROVIDER_UNAVAILABLE at once for `resetAfterMs`, so a dead provider costs callers no waiting. After
 * that one trial call goes through: its success closes the circuit, its failure opens it again.
 */
export class ConsecutiveFailureBreaker implements CircuitBreaker {
  private state: State = { name: 'closed', failures: 0 };
  private readonly threshold: number;
  private readonly resetAfterMs: number;
  private readonly now: () => number;

  constructor(private readonly options: BreakerOptions) {
    this.threshold = options.failureThreshold ?? 5;
    this.resetAfterMs = options.resetAfterMs ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  get status(): State['name'] {
    return this.state.name;
  }

  before(): void {
    if (this.state.name === 'open') {
      const wait = this.state.until - this.now();
      if (wait > 0) {
        throw new ProviderUnavailableError(
          `${this.options.provider} is unavailable: its last ${this.threshold} calls failed; the next attempt is allowed in ${Math.ceil(wait / 1000)} s`,
          { provider: this.options.provider, retryAfterMs: wait },
        );
      }
      this.state = { name: 'half-open', trial: false };
    }
    if (this.state.name === 'half-open') {
      if (this.state.trial) {
        throw new ProviderUnavailableError(`${this.options.provider} is unavailable: a trial call is checking whether it recovered`, {
          provider: this.options.provider,
        });
      }
      this.state.trial = true;
    }
  }

  success(): void {
    this.state = { name: 'closed', failures: 0 };
  }

  failure(_error: ProviderError): void {
    if (this.state.name === 'half-open') {
      this.state = { name: 'open', until: this.now() + this.resetAfterMs };
      return;
    }
    if (this.state.name === 'closed') {
      const failures = this.state.failures + 1;
      this.state = failures >= this.threshold ? { name: 'open', until: this.now() + this.resetAfterMs } : { name: 'closed', failures };
    }
  }
}
