/**
 * Wharf's files are its user's alone: a new data directory is 0700 and every file in it 0600
 * (the database and its -wal/-shm, blobs, uploads, the mirror spool), whatever the umask;
 * `dataPermissions: group` adds group read (0750/0640) even under a strict umask; and a start over
 * looser existing paths warns, naming the path and the command that fixes it.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { runPrinted } from '../fixtures/cli.js';
import { patch, post, pushImage } from '../fixtures/http.js';
import { ociImage, randomBlob } from '../fixtures/images.js';
import { makeTempDir, removeDir } from '../fixtures/paths.js';
import { startWharf, startWharfFor, type StartWharfOptions, type WharfServer } from '../fixtures/server.js';
import { eventually, logLines } from './ops-support.js';

/** Every path under `root` (itself included) with its permission bits. */
async function modesUnder(root: string): Promise<Map<string, { mode: number; directory: boolean }>> {
  const found = new Map<string, { mode: number; directory: boolean }>();
  const visit = async (p: string) => {
    const info = await stat(p);
    found.set(path.relative(root, p) || '.', { mode: info.mode & 0o777, directory: info.isDirectory() });
    if (info.isDirectory()) for (const entry of await readdir(p)) await visit(path.join(p, entry));
  };
  await visit(root);
  return found;
}

/** startWharf with the server's umask set to `umask` (a child inherits it). */
async function startWithUmask(t: Parameters<typeof startWharfFor>[0], umask: number, options: StartWharfOptions): Promise<WharfServer> {
  const previous = process.umask(umask);
  try {
    return await startWharfFor(t, options);
  } finally {
    process.umask(previous);
  }
}

/** A push, plus an upload left open, so that every kind of file exists. */
async function fill(srv: WharfServer): Promise<void> {
  await pushImage(srv.url, 'team/app', 'v1', ociImage({ layers: [randomBlob(70_000), randomBlob(3000)] }));
  const started = await post(`${srv.url}/v2/team/app/blobs/uploads/`);
  assert.equal(started.status, 202);
  const chunk = await patch(new URL(String(started.headers.location), srv.url), { headers: { 'content-type': 'application/octet-stream' }, body: randomBlob(5000) });
  assert.equal(chunk.status, 202);
}

function assertModes(found: Map<string, { mode: number; directory: boolean }>, directoryMode: number, fileMode: number): void {
  const octal = (mode: number) => `0${mode.toString(8)}`;
  for (const [name, { mode, directory }] of found) {
    assert.equal(octal(mode), octal(directory ? directoryMode : fileMode), `${name} (${directory ? 'directory' : 'file'})`);
  }
  const names = [...found.keys()];
  for (const expected of ['wharf.db', 'wharf.db-wal', 'wharf.db-shm', 'storage', 'mirror-spool']) assert.ok(names.includes(expected), `${expected} exists: ${names.join(', ')}`);
  assert.ok(names.some((n) => n.startsWith('storage/blobs/') && !found.get(n)!.directory), 'blob files');
  assert.ok(names.some((n) => n.startsWith('storage/uploads/') && !found.get(n)!.directory), 'upload files');
  assert.ok(names.some((n) => n.startsWith('mirror-spool/')), 'this process spool directory');
}

// A mirror upstream (never contacted) makes the server create its spool directory.
const withMirror = { storage: { driver: 'filesystem' }, mirror: { upstreams: [{ name: 'hub', url: 'http://127.0.0.1:9', registry: 'docker.io' }] } };

test('a new data directory is private after a push, even under umask 000', async (t) => {
  const dir = await makeTempDir('wharf-modes-');
  t.after(() => removeDir(dir));
  const dataDirectory = path.join(dir, 'new', 'data');
  const srv = await startWithUmask(t, 0o000, { config: { ...withMirror, dataDirectory } });
  await fill(srv);
  assertModes(await modesUnder(dataDirectory), 0o700, 0o600);
  assert.ok(!logLines(srv.logs()).some((l) => l.level === 'warn'), 'no warning about a directory Wharf made');
});

test('dataPermissions: group gives the group read access, even under umask 077', async (t) => {
  const dir = await makeTempDir('wharf-modes-');
  t.after(() => removeDir(dir));
  const dataDirectory = path.join(dir, 'data');
  const srv = await startWithUmask(t, 0o077, { config: { ...withMirror, dataDirectory, dataPermissions: 'group' } });
  await fill(srv);
  assertModes(await modesUnder(dataDirectory), 0o750, 0o640);
});

const warnings = (srv: WharfServer) => logLines(srv.logs()).filter((l) => l.msg === 'data path is open to other local users');

test('a start over loose permissions warns with the path and the fix; after the fix it is quiet', async (t) => {
  const dir = await makeTempDir('wharf-modes-');
  t.after(() => removeDir(dir));
  const dataDir = path.join(dir, 'data');
  await mkdir(dataDir);
  await chmod(dataDir, 0o755);

  const loose = await startWharf({ dataDir });
  await loose.stop();
  const [warning, ...others] = warnings(loose);
  assert.deepEqual(others, []);
  assert.deepEqual({ path: warning?.path, mode: warning?.mode, fix: warning?.fix, level: warning?.level }, { path: dataDir, mode: '0755', fix: `chmod -R go-rwx ${dataDir}`, level: 'warn' });
  assert.match(loose.logs(), new RegExp(`wharf: WARNING: ${dataDir} has mode 0755: other local users can read`));

  assert.equal(await runPrinted(String(warning!.fix)), 0);
  const fixed = await startWharf({ dataDir });
  await fixed.stop();
  assert.deepEqual(warnings(fixed), []);

  // The database file on its own (a copy restored from a backup, say).
  await chmod(path.join(dataDir, 'wharf.db'), 0o644);
  const restored = await startWharf({ dataDir });
  await restored.stop();
  assert.deepEqual(warnings(restored).map((w) => [w.path, w.fix]), [[path.join(dataDir, 'wharf.db'), `chmod go-rwx ${path.join(dataDir, 'wharf.db')}`]]);
});

test('group mode accepts group read, still warns about access for others; a cluster warns once', async (t) => {
  const dir = await makeTempDir('wharf-modes-');
  t.after(() => removeDir(dir));
  const dataDir = path.join(dir, 'data');
  await mkdir(dataDir);
  await chmod(dataDir, 0o750);
  const group = await startWharf({ dataDir, config: { dataPermissions: 'group' } });
  await group.stop();
  assert.deepEqual(warnings(group), []);

  await chmod(dataDir, 0o755);
  const cluster = await startWharf({ dataDir, config: { dataPermissions: 'group', http: { workers: 2 } } });
  await eventually(() => cluster.logs().includes('all workers listening'), 30_000, 'both workers');
  await cluster.stop();
  assert.deepEqual(warnings(cluster).map((w) => w.fix), [`chmod -R g-w,o-rwx ${dataDir}`]);
});
