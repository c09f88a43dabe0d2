import { join, resolve } from 'node:path';
import type { WharfConfig } from './config/index.js';
import { fileModes } from './lib/file-modes.js';
import type { DatabaseOptions } from './metadata/database.js';
import type { StorageDriver } from './storage/driver.js';
import { filesystemDriver } from './storage/fs-driver.js';
import { memoryDriver } from './storage/memory-driver.js';

/**
 * Where the configured metadata and blobs live: shared by the server (app.ts), the CLI and the GC
 * worker thread (gc-worker.ts), which all open the same database and store from one config.
 */

export function databaseOptions(config: WharfConfig, onConnectionError?: (error: Error) => void): DatabaseOptions {
  const { postgres, sqlite } = config.database;
  if (config.database.driver === 'postgres') {
    return { driver: 'postgres', url: postgres!.url, poolSize: postgres!.poolSize, connectTimeoutMs: postgres!.connectTimeoutMs, statementTimeoutMs: postgres!.statementTimeoutMs, ...(onConnectionError ? { onConnectionError } : {}) };
  }
  const path = sqlite.path === ':memory:' ? ':memory:' : resolve(sqlite.path ?? join(resolve(config.dataDirectory), 'wharf.db'));
  return { driver: 'sqlite', path, busyTimeoutMs: sqlite.busyTimeoutMs, modes: fileModes(config.dataPermissions) };
}

export function filesystemRoot(config: WharfConfig): string {
  return resolve(config.storage.filesystem.rootDirectory ?? join(resolve(config.dataDirectory), 'storage'));
}

/** The S3 driver (and the AWS SDK, ~20 MiB of memory) is loaded only by those who use it. */
export async function createStorage(config: WharfConfig): Promise<StorageDriver> {
  switch (config.storage.driver) {
    case 'filesystem':
      return filesystemDriver(filesystemRoot(config), fileModes(config.dataPermissions), { directWrites: config.storage.filesystem.directWrites });
    case 'memory':
      return memoryDriver();
    case 's3': {
      const { s3Driver } = await import('./storage/s3-driver.js');
      return s3Driver({ ...config.storage.s3! });
    }
    case 'oss': {
      const { ossDriverOptions, s3Driver } = await import('./storage/s3-driver.js');
      return s3Driver(ossDriverOptions({ ...config.storage.oss! }));
    }
    default:
      throw new Error(`storage driver ${config.storage.driver} is not available in this build`);
  }
}
