import type { SessionStore } from '../metadata/sessions.js';
import type { AuditLog } from './audit-log.js';

/**
 * The periodic clean-up: audit events past retention and expired console sessions. Timers are
 * unref'd (they never keep the process alive); any instance may run it, deletes are idempotent.
 */
export function startAuthMaintenance(options: {
  audit: AuditLog;
  sessions: SessionStore;
  now: () => number;
  intervalMs?: number;
  firstRunMs?: number;
  onError: (error: unknown) => void;
  onPurged?: (counts: { auditEvents: number; sessions: number }) => void;
}): { runNow(): Promise<void>; stop(): void } {
  let running: Promise<void> | undefined;
  const runNow = () => {
    running ??= (async () => {
      try {
        const auditEvents = await options.audit.purge();
        const sessions = await options.sessions.removeExpired(options.now());
        if (auditEvents + sessions > 0) options.onPurged?.({ auditEvents, sessions });
      } catch (error) {
        options.onError(error);
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
  const first = setTimeout(() => void runNow(), options.firstRunMs ?? 60_000);
  const every = setInterval(() => void runNow(), options.intervalMs ?? 3_600_000);
  first.unref();
  every.unref();
  return {
    runNow,
    stop() {
      clearTimeout(first);
      clearInterval(every);
    },
  };
}
