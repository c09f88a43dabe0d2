import { z } from 'zod';
import { encryptionKey, integer } from './common.js';

/** `replication`: how pull and push rules run (docs/replication.md); the rules themselves live in the database. */
export const replicationSchema = z
  .object({
    enabled: z.boolean().default(true).meta({ description: 'run replication rules on this instance (false: it only serves; another instance runs them)' }),
    pollIntervalMs: integer(100, 600_000).default(5_000).meta({ description: 'how often an instance looks for due schedules, triggered images and runs to resume' }),
    leaseSeconds: integer(2, 3_600).default(60).meta({ description: 'how long a runner that died holds its rule back before another instance resumes the run' }),
    maxAttempts: integer(1, 100).default(4).meta({ description: 'attempts an image gets when a registry is unreachable, answers 5xx or 429' }),
    retryBaseMs: integer(10).default(2_000).meta({ description: 'first retry delay; each next one doubles' }),
    retryMaxMs: integer(10).default(60_000).meta({ description: 'longest retry delay' }),
    blobConcurrency: integer(1, 32).default(4).meta({ description: 'blobs an image transfers at a time' }),
    timeoutMs: integer(1_000, 3_600_000).default(60_000).meta({ description: 'idle time on a push target connection before a request fails' }),
    runRetentionDays: integer(1).default(30).meta({ description: 'finished runs and their logs are kept this long' }),
    encryptionKey: encryptionKey('the credentials of push rules'),
  })
  .strict();
