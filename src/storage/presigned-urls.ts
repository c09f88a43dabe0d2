import { LruCache } from '../lib/lru.js';

/** Longest a signed URL is handed out again: well inside any credentials' refresh margin. */
const MAX_REUSE_MS = 60_000;
/** Memory for cached URLs (~600 bytes each: some thousands of hot blobs). */
const CACHE_BYTES = 4 << 20;

/**
 * Presigned URLs, reused for a while. Signing one (AWS SigV4: canonical request, HMAC chain) cost
 * ~1.9 ms of CPU per blob redirect, more than a whole manifest GET (docs/benchmarks.md,
 * "Scale-out"), and a pull-heavy fleet asks for the same few layers over and over. A URL is handed
 * out again for a quarter of its lifetime (at most a minute), so every client still gets at least
 * three quarters of the validity it asked for.
 */
export function reusedSignatures(sign: (key: string, expiresInSeconds: number) => Promise<string>, now: () => number = Date.now) {
  const signed = new LruCache<string, { url: string; reuseUntil: number }>(CACHE_BYTES, (entry) => entry.url.length * 2 + 64);
  return async (key: string, expiresInSeconds: number): Promise<string> => {
    const id = `${expiresInSeconds}:${key}`;
    const cached = signed.get(id);
    if (cached && cached.reuseUntil > now()) return cached.url;
    const signedAt = now();
    const url = await sign(key, expiresInSeconds);
    signed.set(id, { url, reuseUntil: signedAt + Math.min((expiresInSeconds * 1000) / 4, MAX_REUSE_MS) });
    return url;
  };
}
