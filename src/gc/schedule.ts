import { Cron } from 'croner';
import { RegistryError } from '../errors.js';
import type { GcLog, GcRunner } from './runner.js';

export interface GcSchedule {
  /** When the next scheduled run starts; null when GC runs only on demand. */
  nextRun(): Date | null;
  stop(): void;
}

/**
 * Starts a GC run at each time `pattern` names (cron, the server's time zone). Every instance
 * keeps the same schedule; the GC lease lets one of them run and the others skip.
 */
export function scheduleGc(pattern: string, runner: GcRunner, log: GcLog): GcSchedule {
  if (pattern === 'off') return { nextRun: () => null, stop: () => undefined };
  const job = new Cron(pattern, { unref: true, protect: true }, async () => {
    try {
      await runner.run({ dryRun: false, trigger: 'schedule', actor: 'scheduler' });
    } catch (error) {
      if (error instanceof RegistryError && error.code === 'CONFLICT') log.info({ schedule: pattern }, 'scheduled gc skipped: another run holds the lease');
      else log.error({ err: error }, 'scheduled gc failed');
    }
  });
  return { nextRun: () => job.nextRun(), stop: () => job.stop() };
}
