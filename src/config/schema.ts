import { z } from 'zod';
import './meta.js';
import { authSchema } from './sections/auth.js';
import { databaseSchema } from './sections/database.js';
import { gcSchema } from './sections/gc.js';
import { httpSchema } from './sections/http.js';
import { logSchema } from './sections/log.js';
import { metricsSchema } from './sections/metrics.js';
import { mirrorSchema } from './sections/mirror.js';
import { replicationSchema } from './sections/replication.js';
import { storageSchema } from './sections/storage.js';
import { webhooksSchema } from './sections/webhooks.js';

/**
 * The whole Wharf configuration. Every object is strict (unknown keys are errors) and every
 * section has defaults, so `{}` parses to a working embedded server: filesystem blobs and a
 * SQLite database under ./data, no auth, port 5000 on 127.0.0.1.
 */
export const wharfConfigSchema = z
  .object({
    dataDirectory: z
      .string()
      .min(1)
      .default('./data')
      .meta({ description: 'where the embedded defaults keep blobs, the database and generated keys' }),
    dataPermissions: z
      .enum(['private', 'group'])
      .default('private')
      .meta({ description: 'access to the directories and files Wharf creates: private (0700/0600) or group (also group-readable, 0750/0640)' }),
    http: httpSchema.prefault({}),
    storage: storageSchema.prefault({}),
    database: databaseSchema.prefault({}),
    auth: authSchema.prefault({}),
    mirror: mirrorSchema.prefault({}),
    gc: gcSchema.prefault({}),
    log: logSchema.prefault({}),
    metrics: metricsSchema.prefault({}),
    webhooks: webhooksSchema.prefault({}),
    replication: replicationSchema.prefault({}),
  })
  .strict();

export type DeepReadonly<T> = T extends (infer E)[]
  ? readonly DeepReadonly<E>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

export type DeepPartial<T> = T extends (infer E)[]
  ? E[]
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/** The validated, deeply frozen configuration `loadConfig` returns. */
export type WharfConfig = DeepReadonly<z.output<typeof wharfConfigSchema>>;

/** What a config file (or `overrides`) may contain: every key optional. */
export type WharfConfigInput = z.input<typeof wharfConfigSchema>;

/** Command-line overrides: any subset of the config, highest precedence. */
export type ConfigOverrides = DeepPartial<z.output<typeof wharfConfigSchema>>;
