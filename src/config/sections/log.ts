import { z } from 'zod';

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** `log`: process log settings. */
export const logSchema = z
  .object({
    level: z.enum(logLevels).default('info').meta({ description: 'minimum level written' }),
    accessLog: z.boolean().default(true).meta({ description: 'log one line per HTTP request' }),
  })
  .strict();
