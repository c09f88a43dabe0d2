import { resolve, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { WharfConfig } from './config/index.js';
import { createHttpServer } from './http/server.js';
import { openDatabase, type Db } from './metadata/database.js';
import { metadataStore, type MetadataStore } from './metadata/store.js';
import { createRegistry } from './registry/create-registry.js';
import type { Registry } from './registry/registry.js';
import { checkedDriver } from './storage/checked-driver.js';
import type { StorageDriver } from './storage/driver.js';
import { filesystemDriver } from './storage/fs-driver.js';
import { memoryDriver } from './storage/memory-driver.js';

export interface App {
  http: FastifyInstance;
  registry: Registry;
  metadata: MetadataStore;
  storage: StorageDriver;
  logger: Logger;
  /** Starts listening; resolves with the bound port. */
  listen(): Promise<number>;
  /** Stops accepting, lets in-flight requests finish (up to the grace period), closes everything. */
  close(): Promise<void>;
}

/** The composition root: the only place that picks concrete drivers and stores. */
export async function buildApp(config: WharfConfig, logger: Logger): Promise<App> {
  const dataDirectory = resolve(config.dataDirectory);
  const storage = checkedDriver(createStorage(config, dataDirectory), {
    onError: (driver, operation, error) => logger.error({ driver, operation, err: error }, 'storage operation failed'),
  });
  let db: Db | undefined;
  try {
    await storage.check();
    db = await openDatabase(
      config.database.driver === 'postgres'
        ? { driver: 'postgres', url: config.database.postgres!.url, poolSize: config.database.postgres!.poolSize }
        : { driver: 'sqlite', path: resolve(config.database.sqlite.path ?? join(dataDirectory, 'wharf.db')) },
    );
  } catch (error) {
    await storage.close();
    throw error;
  }
  const metadata = metadataStore(db);
  const registry = createRegistry({
    metadata,
    storage,
    now: Date.now,
    maxPageSize: 10_000,
    manifestMaxBytes: config.http.manifestMaxBytes,
    redirectTtlSeconds: 300,
    onInconsistency: (message, fields) => logger.error(fields, message),
  });
  const http = await createHttpServer({
    registry,
    logger,
    ...(config.http.publicUrl ? { publicUrl: config.http.publicUrl } : {}),
    manifestMaxBytes: config.http.manifestMaxBytes,
    redirectBlobs: false,
    ...(config.http.tls ? { tls: config.http.tls } : {}),
    requestTimeoutMs: config.http.requestTimeoutMs,
    keepAliveTimeoutMs: config.http.keepAliveTimeoutMs,
    headersTimeoutMs: config.http.headersTimeoutMs,
    trustProxy: config.http.trustProxy,
    accessLog: config.log.accessLog,
  });

  let closing: Promise<void> | undefined;
  return {
    http,
    registry,
    metadata,
    storage,
    logger,
    async listen() {
      await http.listen({ host: config.http.address, port: config.http.port });
      const address = http.server.address();
      return typeof address === 'object' && address ? address.port : config.http.port;
    },
    close() {
      closing ??= (async () => {
        await http.close();
        await db!.destroy();
        await storage.close();
      })();
      return closing;
    },
  };
}

function createStorage(config: WharfConfig, dataDirectory: string): StorageDriver {
  switch (config.storage.driver) {
    case 'filesystem':
      return filesystemDriver(resolve(config.storage.filesystem.rootDirectory ?? join(dataDirectory, 'storage')));
    case 'memory':
      return memoryDriver();
    default:
      throw new Error(`storage driver ${config.storage.driver} is not available in this build`);
  }
}
