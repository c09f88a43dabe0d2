export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** How long the circuit stays open before one trial request is let through. */
  cooldownMs: number;
  now: () => number;
}

export type CircuitState = 'closed' | 'open' | 'half-open';

/**
 * A per-upstream circuit breaker: after `failureThreshold` consecutive failures the upstream is
 * not asked at all for `cooldownMs` (requests fail fast and the cache answers), then one trial
 * request decides whether it closes again. Keeps a dead or rate-limiting upstream from adding its
 * timeout to every pull.
 */
export class CircuitBreaker {
  private failures = 0;
  private openUntil = 0;
  private trialInFlight = false;

  constructor(private readonly options: CircuitBreakerOptions) {}

  get state(): CircuitState {
    if (this.failures < this.options.failureThreshold) return 'closed';
    return this.options.now() < this.openUntil ? 'open' : 'half-open';
  }

  /** Milliseconds until a trial is allowed (0 when requests may go now). */
  retryInMs(): number {
    return this.state === 'open' ? this.openUntil - this.options.now() : 0;
  }

  /** Whether a request may go to the upstream now; in half-open, only one at a time. */
  allow(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open' || this.trialInFlight) return false;
    this.trialInFlight = true;
    return true;
  }

  success(): void {
    this.failures = 0;
    this.trialInFlight = false;
  }

  /** Counts a failure; `retryAfterMs` (from a 429's Retry-After) opens the circuit at least that long. */
  failure(retryAfterMs?: number): void {
    this.trialInFlight = false;
    this.failures += 1;
    if (retryAfterMs !== undefined && retryAfterMs > 0) this.failures = Math.max(this.failures, this.options.failureThreshold);
    if (this.failures >= this.options.failureThreshold) {
      this.openUntil = this.options.now() + Math.max(this.options.cooldownMs, retryAfterMs ?? 0);
    }
  }
}
