import { Cron } from 'croner';
import { z } from 'zod';
import { integer } from './common.js';

/** Whether `pattern` is a cron expression croner accepts (or "off"). */
function isSchedule(pattern: string): boolean {
  if (pattern === 'off') return true;
  try {
    new Cron(pattern, { paused: true }).stop();
    return true;
  } catch {
    return false;
  }
}

/** `gc`: garbage collection, retention and the grace periods that keep pushes safe (docs/gc.md). */
export const gcSchema = z
  .object({
    schedule: z
      .string()
      .refine(isSchedule)
      .default('17 3 * * *')
      .meta({
        description: 'when GC runs, as cron "minute hour day month weekday" in the server\'s time zone; "off": only on demand',
        expected: 'a cron expression such as "17 3 * * *", or "off"',
      }),
    graceSeconds: integer(0)
      .default(86_400)
      .meta({ description: 'uploads, mounts and links younger than this are never collected (a push in progress)' }),
    untaggedGraceHours: integer(0)
      .default(168)
      .meta({ description: 'untagged manifests are kept this long after their last push, tag move or pull' }),
    leaseSeconds: integer(5, 3600)
      .default(60)
      .meta({ description: 'how long a GC run that crashed blocks the next one (the lock renews every third of this)' }),
    dutyCycle: z
      .number()
      .min(0.05)
      .max(1)
      .optional()
      .meta({
        description:
          'the share of the time a GC run works: below 1 it takes small steps and rests between them, so pulls keep their latency while the database or the store does GC\'s work (absent: 0.5 with SQLite and the filesystem store, whose work a server does in a worker thread beside the pulls; 0.25 when either is a server of its own)',
        expected: 'a number from 0.05 to 1',
      }),
  })
  .strict();
