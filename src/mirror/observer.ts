/**
 * What the mirror reports for metrics (cache hits and misses, bytes fetched from upstreams,
 * upstream errors). The composition root injects an implementation backed by the metrics
 * registry; `kind` is `blob` or `manifest`.
 */
export interface MirrorObserver {
  hit(upstream: string, kind: 'blob' | 'manifest'): void;
  miss(upstream: string, kind: 'blob' | 'manifest'): void;
  upstreamBytes(upstream: string, bytes: number): void;
  upstreamError(upstream: string, failure: string): void;
}

export const noopMirrorObserver: MirrorObserver = {
  hit() {},
  miss() {},
  upstreamBytes() {},
  upstreamError() {},
};
