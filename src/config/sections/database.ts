import { z } from 'zod';
import { integer, isRecord, pathString } from './common.js';
import { requireSection } from './require-section.js';

export const databaseDrivers = ['sqlite', 'postgres'] as const;

const sqliteSchema = z
  .object({
    path: pathString('SQLite database file (absent: <dataDirectory>/wharf.db)').optional(),
    busyTimeoutMs: integer(0, 60_000)
      .default(2_000)
      .meta({ description: 'how long a statement waits for a lock another process holds before the request fails with 503 (the wait blocks the process)' }),
  })
  .strict();

const postgresSchema = z
  .object({
    url: z
      .string()
      .regex(/^postgres(ql)?:\/\//)
      .meta({
        description: 'connection URL',
        expected: 'a postgres:// or postgresql:// URL',
        secretUrl: true,
        example: 'postgres://wharf:secret@db.example.com:5432/wharf',
      }),
    poolSize: integer(1, 1000).default(10).meta({ description: 'connections per process' }),
    connectTimeoutMs: integer(100, 600_000).default(5_000).meta({ description: 'how long opening a connection may take before the request fails with 503' }),
    statementTimeoutMs: integer(0, 3_600_000)
      .default(30_000)
      .meta({ description: 'longest a statement may run (server side, and client side plus 5 s for a server that stopped answering); 0: no limit' }),
  })
  .strict();

/** `database`: where metadata (repositories, tags, users, audit …) lives. */
export const databaseSchema = z
  .object({
    driver: z.enum(databaseDrivers).default('sqlite').meta({ description: 'metadata database' }),
    sqlite: sqliteSchema.prefault({}),
    postgres: postgresSchema.optional(),
  })
  .strict()
  .superRefine(
    (value, ctx) => {
      const raw: unknown = value;
      if (isRecord(raw) && raw['driver'] === 'postgres') {
        requireSection(ctx, raw, 'postgres', postgresSchema, 'database.driver is "postgres"');
      }
    },
    { when: () => true },
  );
