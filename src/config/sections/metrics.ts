import { z } from 'zod';

/** `metrics`: the Prometheus endpoint. */
export const metricsSchema = z
  .object({
    enabled: z.boolean().default(true).meta({ description: 'serve Prometheus metrics' }),
    path: z
      .string()
      .regex(/^\/\S*$/)
      .default('/metrics')
      .meta({ description: 'URL path of the metrics endpoint', expected: 'a URL path starting with "/"' }),
  })
  .strict();
