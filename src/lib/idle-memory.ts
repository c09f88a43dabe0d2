import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { releasePooledBuffers } from './buffer-pool.js';
import { loadNativeHeapTrimmer, type NativeHeapTrimmer } from './native-heap.js';

/** How often the event loop's utilization is looked at. */
const CHECK_MS = 10_000;
/** A window in which the event loop ran less than this share of the time is idle. */
const IDLE_UTILIZATION = 0.02;
/**
 * RSS grown this much above the last collection's result makes a later idle window of the same
 * idle period collect again: a few requests after the collection (too few to count as busy) can
 * start a released part again, such as the background writer's thread for a late batch of pull
 * counts, which would otherwise stay until the next busy stretch.
 */
const REGROWTH_BYTES = 8 << 20;

export interface IdleCollection {
  rssBefore: number;
  rssAfter: number;
  /** Bytes of pooled stream buffers let go before the collections. */
  releasedBuffers: number;
  /** What the `release` option let go (names of the parts it stopped), before the collections. */
  released: string[];
  /** Why `release` failed, when it did (what it had not stopped stays as it was). */
  releaseFailed?: string;
  /** RSS after the collections, before the native heap was trimmed. */
  rssAfterCollections: number;
  /** Why the native heap was not trimmed (no glibc, the FFI did not load); absent when it was. */
  trimSkipped?: string;
  durationMs: number;
}

/**
 * Gives memory back once the process goes idle. bin/wharf turns V8's memory reducer off (during
 * a push it started ~60 full collections per 512 MiB), so after a burst of work the young
 * generation stays at its largest and old garbage and freed body buffers wait for the next
 * allocation-driven collection, which an idle server never reaches. So: after a busy stretch,
 * the first CHECK_MS window with the event loop under IDLE_UTILIZATION runs full collections —
 * two, as V8 shrinks the young generation only when the previous collection measured a low
 * allocation rate. Before them it empties the buffer pools (buffer-pool.ts), so that the buffers
 * kept for the next stream are freed too, and calls `release` (parts that can stop while idle and
 * start again when needed, such as the SQLite background worker); after them it trims the native heap (native-heap.ts),
 * which is where the freed request and stream buffers were. Never while busy, and once per idle
 * period — again only when the RSS grew by REGROWTH_BYTES since.
 */
export interface IdleMemoryOptions {
  /** Stops what is not needed while idle; resolves the names of what it stopped. */
  release?(): Promise<string[]>;
  onCollect?(collection: IdleCollection): void;
  /** How often the event loop's utilization is looked at (default CHECK_MS; shorter in tests). */
  checkMs?: number;
}

export function idleMemoryReclaimer(options: IdleMemoryOptions = {}): { stop(): void } {
  let collect: (() => void) | undefined;
  // Loaded at the first idle window, not at start-up: a server that never idles pays nothing.
  let trimmer: Promise<NativeHeapTrimmer> | undefined;
  let previous = performance.eventLoopUtilization();
  // Start-up counts as busy: its garbage is the first to go. `floor`: the RSS the last collection left.
  let collected = false;
  let floor = 0;
  let stopped = false;
  const timer = setInterval(async () => {
    const current = performance.eventLoopUtilization();
    const { utilization } = performance.eventLoopUtilization(current, previous);
    previous = current;
    if (utilization >= IDLE_UTILIZATION) {
      collected = false;
      return;
    }
    if (collected && process.memoryUsage.rss() < floor + REGROWTH_BYTES) return;
    collected = true;
    collect ??= compactingCollector();
    const native = await (trimmer ??= loadNativeHeapTrimmer());
    if (stopped) return;
    const rssBefore = process.memoryUsage.rss();
    const started = performance.now();
    // A part that fails to stop stays as it was: the collections still run.
    let releaseFailed: string | undefined;
    const released =
      (await options.release?.().catch((error: unknown) => {
        releaseFailed = error instanceof Error ? error.message : String(error);
        return [];
      })) ?? [];
    if (stopped) return;
    const releasedBuffers = releasePooledBuffers();
    collect();
    const rssAfterCollections = process.memoryUsage.rss();
    if ('trim' in native) native.trim();
    floor = process.memoryUsage.rss();
    options.onCollect?.({
      rssBefore,
      released,
      rssAfterCollections,
      rssAfter: floor,
      releasedBuffers,
      durationMs: performance.now() - started,
      ...('unavailable' in native ? { trimSkipped: native.unavailable } : {}),
      ...(releaseFailed ? { releaseFailed } : {}),
    });
    // The collections themselves must not make the next window look busy.
    previous = performance.eventLoopUtilization();
  }, options.checkMs ?? CHECK_MS);
  timer.unref();
  return {
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}

/**
 * Two full collections that move the live objects of every old-space page together, so that the
 * pages left empty go back to the system. V8's own collections compact only the pages it finds
 * most fragmented (its memory reducer, which compacts for an idle heap, is off: bin/wharf); after
 * a burst of work that left ~10 MiB of old space committed but unused. The flag is set for these
 * two collections only: compacting every page costs more than the heuristic, which is fine while
 * idle and not under load. `gc()` is V8's, which Node does not expose without its flag; that flag
 * only adds the function.
 */
export function compactingCollector(): () => void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  return () => {
    setFlagsFromString('--compact-on-every-full-gc');
    try {
      gc();
      gc();
    } finally {
      setFlagsFromString('--no-compact-on-every-full-gc');
    }
  };
}
