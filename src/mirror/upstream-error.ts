/**
 * Why an upstream request failed, in the terms the mirror decides on:
 * - `unavailable`: unreachable, timed out, 5xx, or the circuit is open — serve from the cache;
 * - `rate-limited`: 429 — serve from the cache, else tell the client to come back later;
 * - `not-found`: the upstream answered 404 — authoritative;
 * - `denied`: 401/403 even after authenticating — the mirror's credentials are wrong;
 * - `invalid`: the upstream answered, but with content that is not what was asked for.
 */
export type UpstreamFailure = 'unavailable' | 'rate-limited' | 'not-found' | 'denied' | 'invalid';

export class UpstreamError extends Error {
  constructor(
    readonly failure: UpstreamFailure,
    readonly upstream: string,
    message: string,
    readonly options: { status?: number; retryAfterSeconds?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'UpstreamError';
  }

  /** Whether cached content should be served instead (the upstream could not answer). */
  get transient(): boolean {
    return this.failure === 'unavailable' || this.failure === 'rate-limited';
  }
}
