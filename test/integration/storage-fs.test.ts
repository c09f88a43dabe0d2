import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
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


describe('filesystem adopt', () => {
  it('makes a local file the object by renaming it: same inode, content intact, the file gone, an old object replaced', async () => {
    const root = await mkdtemp(join(tmpdir(), 'wharf-storage-'));
    const driver = checkedDriver(filesystemDriver(root));
    try {
      const key = 'blobs/sha256/ab/adopted';
      await driver.write(key, Buffer.from('old'));
      const spool = join(root, 'spool-file');
      const content = randomBytes(300_000);
      await writeFile(spool, content);
      const inode = (await stat(spool)).ino;
      assert.ok(driver.adopt, 'the filesystem driver adopts files');
      await driver.adopt(spool, key);
      assert.equal(existsSync(spool), false, 'the file is moved, not copied');
      assert.equal((await stat(join(root, key))).ino, inode);
      const parts: Buffer[] = [];
      for await (const chunk of await driver.read(key)) parts.push(chunk as Buffer);
      assert.ok(Buffer.concat(parts).equals(content));
    } finally {
      await driver.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});
