import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { checkedDriver } from '../../src/storage/checked-driver.js';
import { filesystemDriver } from '../../src/storage/fs-driver.js';
import { storeTemporaries } from '../fixtures/paths.js';
import { markerLine, noStrace, traceScript } from '../fixtures/strace.js';
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

describe('filesystem stage', () => {
  const withFs = async (run: (driver: ReturnType<typeof checkedDriver>, root: string) => Promise<void>) => {
    const root = await mkdtemp(join(tmpdir(), 'wharf-storage-'));
    const driver = checkedDriver(filesystemDriver(root));
    try {
      await run(driver, root);
    } finally {
      await driver.close();
      await rm(root, { recursive: true, force: true });
    }
  };
  const content = async (driver: ReturnType<typeof checkedDriver>, key: string) => {
    const parts: Buffer[] = [];
    for await (const chunk of await driver.read(key)) parts.push(chunk as Buffer);
    return Buffer.concat(parts);
  };

  it('staged bytes are no object until placed; placing makes them one and leaves no temporary file; a second place is a no-op', () =>
    withFs(async (driver, root) => {
      const key = 'blobs/sha256/cd/staged';
      const body = randomBytes(1500);
      assert.ok(driver.stage, 'the filesystem driver stages');
      const staged = await driver.stage(body);
      assert.equal(await driver.stat(key), null, 'not visible before place');
      assert.equal((await storeTemporaries(root)).length, 1, 'a temporary file holds the bytes');
      await staged.place(key);
      assert.ok((await content(driver, key)).equals(body));
      assert.deepEqual(await storeTemporaries(root), []);
      await staged.place('blobs/sha256/cd/other');
      assert.equal(await driver.stat('blobs/sha256/cd/other'), null, 'placed once only');
      await staged.discard();
      assert.ok((await content(driver, key)).equals(body), 'discard after place keeps the object');
    }));

  it('discarding removes the temporary file and creates no object; a body above one write is staged whole', () =>
    withFs(async (driver, root) => {
      const staged = await driver.stage!(randomBytes(10));
      await staged.discard();
      assert.deepEqual(await storeTemporaries(root), []);
      await staged.place('blobs/sha256/cd/never');
      assert.equal(await driver.stat('blobs/sha256/cd/never'), null, 'a discarded stage places nothing');
      const large = randomBytes(300_000);
      await (await driver.stage!(large)).place('blobs/sha256/cd/large');
      assert.ok((await content(driver, 'blobs/sha256/cd/large')).equals(large));
    }));
});

describe('filesystem deferred placement (the manifest placement journal)', () => {
  it('strace: a deferSync stage and its placement flush nothing; syncPlaced fsyncs each file, then each directory once, and skips a key gone since', { skip: noStrace }, async (t) => {
    const root = await realpath(await mkdtemp(join(tmpdir(), 'wharf-storage-defer-')));
    t.after(() => rm(root, { recursive: true, force: true }));
    const keys = ['blobs/sha256/aa/one', 'blobs/sha256/aa/two', 'blobs/sha256/bb/three'];
    const script = `
      const { filesystemDriver } = await import(${JSON.stringify(fileURLToPath(new URL('../../src/storage/fs-driver.js', import.meta.url)))});
      const driver = filesystemDriver(${JSON.stringify(root)});
      await driver.check();
      process.stdout.write('CHECKED\\n');
      for (const key of ${JSON.stringify(keys)}) await (await driver.stage(Buffer.from(key), { deferSync: true })).place(key);
      process.stdout.write('PLACED\\n');
      await driver.delete('blobs/sha256/aa/two');
      process.stdout.write('DELETED\\n');
      await driver.syncPlaced(${JSON.stringify(keys)});
      process.stdout.write('SYNCED\\n');
      await driver.close();
    `;
    const lines = await traceScript(t, root, ['openat', 'rename', 'renameat', 'renameat2', 'fsync', 'fdatasync'], script);
    const [checked, placed, deleted, synced] = ['CHECKED', 'PLACED', 'DELETED', 'SYNCED'].map((text) => markerLine(lines, text)) as [number, number, number, number];
    assert.ok(checked >= 0 && placed > checked && deleted > placed && synced > deleted, 'the markers traced in order');
    const isSync = (line: string) => /\b(fsync|fdatasync)\(/.test(line);
    const placing = lines.slice(checked, placed);
    assert.equal(placing.filter((line) => /\brename(at2?)?\(/.test(line)).length, keys.length, 'each placed by a rename');
    assert.deepEqual(placing.filter(isSync), [], 'no fsync while staging and placing');
    assert.deepEqual(placing.filter((line) => line.includes('O_SYNC')), [], 'no O_SYNC write');

    const syncs = lines.slice(deleted, synced).filter(isSync);
    const named = (path: string) => syncs.findIndex((line) => line.includes(`<${root}/${path}>`));
    assert.ok(named('blobs/sha256/aa/one') >= 0 && named('blobs/sha256/bb/three') >= 0, `both files fsynced:\n${syncs.join('\n')}`);
    assert.equal(named('blobs/sha256/aa/two'), -1, 'the deleted key is skipped');
    for (const directory of ['blobs/sha256/aa', 'blobs/sha256/bb']) {
      assert.equal(syncs.filter((line) => line.includes(`<${root}/${directory}>`)).length, 1, `${directory} fsynced once`);
      assert.ok(named(directory) > named('blobs/sha256/bb/three'), `${directory} fsynced after the files`);
    }
    assert.equal(syncs.length, 4, `two files and two directories:\n${syncs.join('\n')}`);
  });
});

describe('filesystem direct writes', () => {
  /**
   * Traces two appends to one upload (the second from an unaligned offset) and a streamed write;
   * returns the trace's O_DIRECT opens and the writes through them as [fd, length, position].
   */
  async function traceUploads(t: { after(fn: () => unknown): void }, directWrites: boolean) {
    const root = await realpath(await mkdtemp(join(tmpdir(), 'wharf-storage-direct-')));
    t.after(() => rm(root, { recursive: true, force: true }));
    // Bytes 1, 2 and 3: the trace prints them as escapes, never as a comma that would confuse the parsing.
    const script = `
      const { Readable } = await import('node:stream');
      const { filesystemDriver } = await import(${JSON.stringify(fileURLToPath(new URL('../../src/storage/fs-driver.js', import.meta.url)))});
      const driver = filesystemDriver(${JSON.stringify(root)}, undefined, { directWrites: ${directWrites} });
      await driver.check();
      await driver.createUpload('u');
      const first = Buffer.alloc(1_000_777, 1);
      let size = await driver.appendUpload('u', 0, Readable.from([first.subarray(0, 300_000), first.subarray(300_000)]));
      size = await driver.appendUpload('u', size, Readable.from([Buffer.alloc(600_000, 2)]));
      await driver.commitUpload('u', 'blobs/sha256/ab/upload');
      await driver.write('blobs/sha256/cd/streamed', Readable.from([Buffer.alloc(700_000, 3)]));
      await driver.close();
    `;
    const lines = await traceScript(t, root, ['openat', 'pwrite64', 'pwritev', 'pwritev2'], script);
    // A descriptor number is reused once closed: each open says what the number is from then on.
    const isDirect = new Map<string, boolean>();
    const direct: Array<[number, number]> = [];
    let directOpens = 0;
    for (const line of lines) {
      const opened = /\bopenat\(.*\) = (\d+)</.exec(line);
      if (opened) {
        const viaDirect = /\bO_DIRECT\b/.test(line) && !line.includes('/.direct-');
        isDirect.set(opened[1]!, viaDirect);
        if (viaDirect) directOpens += 1;
      }
      const write = /\bpwrite(?:64|v2?)\((\d+)<[^>]*>.*, (\d+), (\d+)(?:\) += \d+| <unfinished \.\.\.>)$/.exec(line);
      if (write && isDirect.get(write[1]!)) direct.push([Number(write[2]), Number(write[3])]);
    }
    const upload = await readFile(join(root, 'blobs/sha256/ab/upload'));
    assert.ok(upload.equals(Buffer.concat([Buffer.alloc(1_000_777, 1), Buffer.alloc(600_000, 2)])), 'the upload holds both appends, byte for byte');
    assert.ok((await readFile(join(root, 'blobs/sha256/cd/streamed'))).equals(Buffer.alloc(700_000, 3)));
    return { directOpens, direct };
  }

  it('strace: appends and streamed writes go past the page cache in whole aligned blocks; the files hold every byte', { skip: noStrace }, async (t) => {
    const { directOpens, direct } = await traceUploads(t, true);
    assert.equal(directOpens, 3, 'the upload (once per append) and the temporary file opened with O_DIRECT');
    for (const [length, position] of direct) {
      assert.equal(length % 4096, 0, `direct write of ${length}`);
      assert.equal(position % 4096, 0, `direct write at ${position}`);
    }
    const bytes = direct.reduce((n, [length]) => n + length, 0);
    assert.ok(bytes >= 2_300_777 - 3 * (64 << 10) - 3 * 4096, `most bytes direct: ${bytes}`);
  });

  it('strace: with directWrites off, nothing is opened with O_DIRECT; the files are the same', { skip: noStrace }, async (t) => {
    const { directOpens, direct } = await traceUploads(t, false);
    assert.equal(directOpens, 0);
    assert.deepEqual(direct, []);
  });
});

describe('filesystem purgeTemporaries', () => {
  it('removes temporary files last changed before the cutoff, keeps newer ones and the objects', async () => {
    const root = await mkdtemp(join(tmpdir(), 'wharf-storage-'));
    const driver = checkedDriver(filesystemDriver(root));
    try {
      assert.equal(await driver.purgeTemporaries!(new Date()), 0, 'no temporary directory yet: nothing to do');
      await driver.write('blobs/sha256/ef/kept', Buffer.from('object'));
      // What a crash between a write and its rename leaves: two staged files, one of them old.
      await driver.stage!(Buffer.from('old'));
      await driver.stage!(Buffer.from('fresh'));
      const [oldName, freshName] = await storeTemporaries(root);
      const dayAgo = new Date(Date.now() - 86_400_000);
      await utimes(join(root, 'tmp', oldName!), dayAgo, dayAgo);
      assert.equal(await driver.purgeTemporaries!(new Date(Date.now() - 3_600_000)), 1);
      assert.deepEqual(await storeTemporaries(root), [freshName]);
      assert.ok(await driver.stat('blobs/sha256/ef/kept'));
    } finally {
      await driver.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('filesystem placement', () => {
  it('strace: the first check() makes the 256 shard directories, with fsyncs up to the root; placements then make none', { skip: noStrace }, async (t) => {
    const root = await realpath(await mkdtemp(join(tmpdir(), 'wharf-storage-shards-')));
    t.after(() => rm(root, { recursive: true, force: true }));
    const keys = ['blobs/sha256/ab/one', 'blobs/sha256/0f/two'];
    const script = `
      const { filesystemDriver } = await import(${JSON.stringify(fileURLToPath(new URL('../../src/storage/fs-driver.js', import.meta.url)))});
      const driver = filesystemDriver(${JSON.stringify(root)});
      await driver.check();
      process.stdout.write('CHECKED\\n');
      await driver.check();
      for (const key of ${JSON.stringify(keys)}) await (await driver.stage(Buffer.from(key))).place(key);
      process.stdout.write('PLACED\\n');
      await driver.close();
    `;
    const lines = await traceScript(t, root, ['mkdir', 'mkdirat', 'fsync', 'fdatasync'], script);
    const checked = markerLine(lines, 'CHECKED');
    assert.ok(checked > 0, 'the check finished');
    const shards = join(root, 'blobs', 'sha256');
    const isMkdir = (line: string) => /\bmkdir(at)?\(/.test(line);
    const lastShard = lines.slice(0, checked).findLastIndex((line) => isMkdir(line) && line.includes(`"${shards}/`) && line.endsWith('= 0'));
    assert.ok(lastShard > 0, 'the shards were made by the check');
    for (const directory of [shards, join(root, 'blobs'), root]) {
      assert.ok(
        lines.slice(lastShard, checked).some((line) => /\bfsync\(/.test(line) && line.includes(`<${directory}>`)),
        `${directory} fsynced after the last shard was made, before the check resolved`,
      );
    }
    const underBlobs = (line: string) => isMkdir(line) && line.includes(`"${root}/blobs`);
    assert.deepEqual(lines.slice(checked).filter(underBlobs), [], 'no directory made for blobs after the first check: not by a second check, not by a placement');
    const made = (await readdir(shards)).sort();
    assert.equal(made.length, 256);
    assert.equal(made[0], '00');
    assert.equal(made[255], 'ff');
    for (const key of keys) assert.equal(await readFile(join(root, key), 'utf8'), key);
  });

  it('a store a killed start left with some shard directories gets the rest at the next check', async (t) => {
    const root = await mkdtemp(join(tmpdir(), 'wharf-storage-partial-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    const shards = join(root, 'blobs', 'sha256');
    for (const shard of ['00', '01', '7f']) await mkdir(join(shards, shard), { recursive: true });
    await writeFile(join(shards, '7f', 'kept'), 'kept');
    const driver = filesystemDriver(root);
    await driver.check();
    assert.equal((await readdir(shards)).length, 256);
    assert.equal(await readFile(join(shards, '7f', 'kept'), 'utf8'), 'kept', 'what was there stays');
    await driver.write('blobs/sha256/ab/x', Buffer.from('x'));
    assert.equal(await readFile(join(shards, 'ab', 'x'), 'utf8'), 'x');
  });

  it('strace: each placement is a rename, then an fsync of its directory (and of the parents of a new one), before it resolves', { skip: noStrace }, async (t) => {
    // strace names files by their real path.
    const root = await realpath(await mkdtemp(join(tmpdir(), 'wharf-storage-strace-')));
    t.after(() => rm(root, { recursive: true, force: true }));
    const keys = ['blobs/aa/one', 'blobs/aa/two', 'blobs/aa/three', 'blobs/bb/four'];
    const script = `
      const { filesystemDriver } = await import(${JSON.stringify(fileURLToPath(new URL('../../src/storage/fs-driver.js', import.meta.url)))});
      const driver = filesystemDriver(${JSON.stringify(root)});
      for (const key of ${JSON.stringify(keys)}) {
        await (await driver.stage(Buffer.from(key))).place(key);
        process.stdout.write('PLACED ' + key + '\\n');
      }
      await driver.close();
    `;
    const lines = await traceScript(t, root, ['openat', 'mkdir', 'mkdirat', 'rename', 'renameat', 'renameat2', 'fsync', 'fdatasync'], script);
    let from = 0;
    for (const key of keys) {
      const placed = markerLine(lines, `PLACED ${key}`);
      assert.ok(placed > from, `${key}: placed after the previous one`);
      const span = lines.slice(from, placed);
      const renamed = span.findIndex((line) => /\brename(at2?)?\(/.test(line) && line.includes(`${root}/${key}"`));
      assert.ok(renamed >= 0, `${key}: renamed into place`);
      const directory = `<${root}/${key.slice(0, key.lastIndexOf('/'))}>`;
      assert.ok(
        span.slice(renamed).some((line) => /\b(fsync|fdatasync)\(/.test(line) && line.includes(directory)),
        `${key}: its directory fsynced after the rename, before the placement resolved:\n${span.slice(renamed).join('\n')}`,
      );
      // A directory created for the placement: every directory from its parent up to the root is
      // fsynced too, or the new directory's name (and so the file) may not survive a crash.
      const made = span.flatMap((line, at) => {
        const created = /\bmkdir(?:at)?\((?:AT_FDCWD[^,]*, )?"([^"]+)".*= 0$/.exec(line)?.[1];
        // (The temporary directory is not on the way: what is staged there is never found by name.)
        return created && `${root}/${key}`.startsWith(`${created}/`) ? [{ at, created }] : [];
      });
      if (key === 'blobs/aa/one' || key === 'blobs/bb/four') assert.ok(made.length > 0, `${key}: its directory was created:\n${span.join('\n')}`);
      for (const { at, created } of made) {
        for (let parent = dirname(created); ; parent = dirname(parent)) {
          assert.ok(
            span.slice(at).some((line) => /\b(fsync|fdatasync)\(/.test(line) && line.includes(`<${parent}>`)),
            `${key}: ${parent} fsynced after ${created} was made, before the placement resolved:\n${span.slice(at).join('\n')}`,
          );
          if (parent === root) break;
        }
      }
      from = placed;
    }
  });
});
