import { loadLibc } from './libc.js';

/**
 * Gives the native heap's free memory back to the operating system: glibc's `malloc_trim(0)`.
 *
 * Node allocates every socket read (~64 KiB) and every stream buffer with malloc. After a burst
 * of work those are freed, but glibc keeps most of the freed memory in its arenas for the next
 * allocation: after a whole `bench/compare.sh` run an idle server held 176 MiB of RSS, and a
 * `malloc_trim(0)` brought it to 112 MiB (docs/benchmarks.md, "Eighth session"). Node has no call
 * for it, so it goes through the FFI (libc.ts). Where there is no glibc (musl, macOS) or the FFI
 * does not load, trimming is skipped and the reason is returned.
 */
export type NativeHeapTrimmer = { trim(): void } | { unavailable: string };

export async function loadNativeHeapTrimmer(): Promise<NativeHeapTrimmer> {
  const libc = await loadLibc();
  return 'unavailable' in libc ? libc : { trim: libc.mallocTrim };
}
