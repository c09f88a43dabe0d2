import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkedDriver } from '../../src/storage/checked-driver.js';
import { filesystemDriver } from '../../src/storage/fs-driver.js';
import { storageContract } from './storage-contract.js';

storageContract('filesystem', async () => {
  const root = await mkdtemp(join(tmpdir(), 'wharf-storage-'));
  const driver = checkedDriver(filesystemDriver(root));
  return {
    driver,
    reopen: async () => checkedDriver(filesystemDriver(root)),
    async cleanup() {
      await driver.close();
      await rm(root, { recursive: true, force: true });
    },
  };
});

