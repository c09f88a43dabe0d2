import { z } from 'zod';
import { integer, isRecord, pathString } from './common.js';
import { requireSection } from './require-section.js';

export const databaseDrivers = ['sqlite', 'postgres'] as const;

const sqliteSchema = z
  .object({
    path: pathString('SQLite database file (absent: <dataDirectory>/wharf.db)').optional(),
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
