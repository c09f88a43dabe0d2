import { setTimeout as sleep } from 'node:timers/promises';

/** A rate limit shared by every stream that takes from it. */
export interface TokenBucket {
  readonly bytesPerSecond: number;
  /** Resolves when `n` bytes may pass (at once while the bucket holds them). */
  take(n: number, signal?: AbortSignal): Promise<void>;
}

/** Chunks are cut to this size, so a low rate sends steadily instead of a chunk a second. */
const SLICE = 64 << 10;

/**
 * A token bucket of `bytesPerSecond`, holding at most one second of tokens (the burst). A take
 * larger than what the bucket holds runs it into debt and waits until the debt is paid back, so
 * concurrent takers share the rate and the average never exceeds it.
 */
export function tokenBucket(bytesPerSecond: number, now: () => number = Date.now): TokenBucket {
  if (!(bytesPerSecond > 0)) throw new RangeError('a token bucket needs a positive rate');
  let tokens = bytesPerSecond;
  let at = now();
  return {
    bytesPerSecond,
    async take(n, signal) {
      const t = now();
      tokens = Math.min(bytesPerSecond, tokens + ((t - at) * bytesPerSecond) / 1000);
      at = t;
      tokens -= n;
      if (tokens < 0) await sleep(Math.ceil((-tokens * 1000) / bytesPerSecond), undefined, signal ? { signal } : {});
    },
  };
}

/**
 * `source`'s chunks, passed at the bucket's rate (unthrottled without one); `onBytes` hears of
 * each chunk as it passes. Backpressure is kept: nothing is read ahead of the consumer.
 */
export async function* throttled(source: AsyncIterable<Buffer>, bucket: TokenBucket | undefined, onBytes?: (n: number) => void, signal?: AbortSignal): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    signal?.throwIfAborted();
    if (!bucket) {
      onBytes?.(chunk.length);
      yield chunk;
      continue;
    }
    for (let offset = 0; offset < chunk.length; offset += SLICE) {
      const slice = chunk.subarray(offset, Math.min(chunk.length, offset + SLICE));
      await bucket.take(slice.length, signal);
      onBytes?.(slice.length);
      yield slice;
    }
  }
}
