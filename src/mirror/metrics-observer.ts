import { Counter, type Registry } from 'prom-client';
import type { MirrorObserver } from './observer.js';

/** The mirror's counters, registered in the app's metrics registry. */
export function metricsObserver(registry: Registry): MirrorObserver {
  const registers = [registry];
  const hits = new Counter({ name: 'wharf_mirror_cache_hits_total', help: 'Mirror reads served from the cache', labelNames: ['upstream', 'kind'] as const, registers });
  const misses = new Counter({ name: 'wharf_mirror_cache_misses_total', help: 'Mirror reads that went to the upstream', labelNames: ['upstream', 'kind'] as const, registers });
  const bytes = new Counter({ name: 'wharf_mirror_upstream_bytes_total', help: 'Bytes received from upstream registries', labelNames: ['upstream'] as const, registers });
  const errors = new Counter({
    name: 'wharf_mirror_upstream_errors_total',
    help: 'Upstream requests that failed (unavailable, rate-limited, denied, invalid, invalid-content)',
    labelNames: ['upstream', 'failure'] as const,
    registers,
  });
  return {
    hit: (upstream, kind) => hits.inc({ upstream, kind }),
    miss: (upstream, kind) => misses.inc({ upstream, kind }),
    upstreamBytes: (upstream, n) => bytes.inc({ upstream }, n),
    upstreamError: (upstream, failure) => errors.inc({ upstream, failure }),
  };
}
