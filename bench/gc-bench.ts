/**
 * GC benchmark: one garbage collection pass over `--manifests` images of `--blobs-per-manifest`
 * blobs each (default 10,000 × 10 = 100,000 blobs), half of them garbage (untagged images past
 * their grace), written straight through the metadata store and the driver; the p99 of manifest
 * GETs at 16 clients (wrk) while idle and during the pass; and CNCF Distribution's offline
 * `docker-registry garbage-collect --delete-untagged` on the same content laid out in its
 * filesystem format (filesystem runs only: its files are hard links to Wharf's).
 *
 *   npx tsc -p . && node dist/bench/gc-bench.js [--store filesystem|s3] [--db sqlite|postgres]
 *     [--manifests 10000] [--blobs-per-manifest 10] [--blob-bytes 256] [--seconds 10] [--no-distribution] [--no-load]
 *     [--duty-cycle D] [--timeline SECONDS]
 *
 * --no-load times the pass alone (no wrk; on two cores the pulls slow the pass down a lot).
 * --duty-cycle sets the server's gc.dutyCycle (absent: the server's default, src/gc/pacer.ts). --timeline N restarts wrk every
 * N seconds during the pass and prints each slice's p50/p99 (`out.timeline`) instead of one
 * figure for the whole pass: where in the pass the pulls' tail grows.
 *
 * s3 and postgres use the test services (WHARF_TEST_S3_*, WHARF_TEST_POSTGRES_URL: start them
 * with scripts/start-ceph.sh and scripts/start-postgres.sh). Prints one JSON object.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { link, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { settleAll } from '../src/lib/settle-all.js';
import { openDatabase, type Db } from '../src/metadata/database.js';
import { parseDigest } from '../src/oci/digest.js';
import type { StorageDriver } from '../src/storage/driver.js';
import { filesystemDriver } from '../src/storage/fs-driver.js';
import { blobKey } from '../src/storage/keys.js';
import { s3Driver } from '../src/storage/s3-driver.js';
import { request } from '../test/fixtures/http.js';
import { makeTempDir, removeDir } from '../test/fixtures/paths.js';
import { freshDatabase } from '../test/fixtures/postgres.js';
import { s3TestEnv, uniquePrefix } from '../test/fixtures/s3.js';
import { startWharf, type ConfigObject } from '../test/fixtures/server.js';
import { benchImages, writeImages, type BenchImage } from './gc-data.js';

const { values: args } = parseArgs({
  options: {
    store: { type: 'string', default: 'filesystem' },
    db: { type: 'string', default: 'sqlite' },
    manifests: { type: 'string', default: '10000' },
    'blobs-per-manifest': { type: 'string', default: '10' },
    'blob-bytes': { type: 'string', default: '256' },
    seconds: { type: 'string', default: '10' },
    'no-distribution': { type: 'boolean', default: false },
    'no-load': { type: 'boolean', default: false },
    timeline: { type: 'string', default: '0' },
    'duty-cycle': { type: 'string' },
  },
});
const spec = {
  repositories: 100,
  manifests: Number(args.manifests),
  blobsPerManifest: Number(args['blobs-per-manifest']),
  blobBytes: Number(args['blob-bytes']),
  ageMs: 2 * 86_400_000,
  concurrency: args.store === 's3' ? 64 : 32,
  progress: (n: number, total: number) => process.stderr.write(`\rwriting objects: ${n}/${total}`),
};
const seconds = Number(args.seconds);
const ADMIN = { username: 'bench', password: 'bench-password-1' };
const log = (message: string) => process.stderr.write(`${message}\n`);
const timed = async <T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> => {
  const started = Date.now();
  const value = await work();
  return { ms: Date.now() - started, value };
};

const WRK_SCRIPT = `
local paths, n = {}, 0
function init(args) for i = 1, #args do paths[i] = args[i] end end
function request() n = n + 1; return wrk.format(nil, paths[n % #paths + 1]) end
function done(s, latency)
  io.write(string.format('wrk-summary {"seconds":%f,"requests":%d,"p50":%f,"p99":%f,"errors":%d,"badStatus":%d}\\n',
    s.duration / 1e6, s.requests, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    s.errors.connect + s.errors.read + s.errors.write + s.errors.timeout, s.errors.status))
end
`;

interface WrkResult {
  seconds: number;
  requests: number;
  p50: number;
  p99: number;
  errors: number;
  badStatus: number;
}

/** wrk with 16 connections for `duration` s, or until `until` resolves (then SIGINT: it still reports). */
async function wrk(dir: string, url: string, paths: string[], duration: number, until?: Promise<unknown>): Promise<WrkResult> {
  const script = path.join(dir, 'load.lua');
  await writeFile(script, WRK_SCRIPT);
  const child = spawn('wrk', ['-t2', '-c16', `-d${duration}s`, '--timeout', '30s', '-s', script, '-H', 'Accept: application/vnd.oci.image.manifest.v1+json', url, '--', ...paths], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  void until?.then(() => child.kill('SIGINT'));
  await once(child, 'close');
  const line = /^wrk-summary (.*)$/m.exec(output);
  if (!line) throw new Error(`wrk printed no summary: ${output.slice(-300)}`);
  return JSON.parse(line[1]!) as WrkResult;
}

/** wrk in `slice`-second runs until `until` resolves: the p50/p99 of each, by seconds since the start. */
async function timeline(dir: string, url: string, paths: string[], slice: number, until: Promise<unknown>): Promise<Array<{ at: number; p50: number; p99: number; requests: number }>> {
  let done = false;
  void until.then(() => (done = true));
  const started = Date.now();
  const slices: Array<{ at: number; p50: number; p99: number; requests: number }> = [];
  while (!done) {
    const result = await wrk(dir, url, paths, slice);
    slices.push({ at: (Date.now() - started) / 1000, p50: result.p50, p99: result.p99, requests: result.requests });
    log(`slice ${JSON.stringify(slices.at(-1))}`);
  }
  return slices;
}

/** The same content in CNCF Distribution's filesystem layout, its blob files hard links to Wharf's. */
async function distributionLayout(root: string, wharfStorage: string, images: BenchImage[]): Promise<void> {
  const v2 = path.join(root, 'docker', 'registry', 'v2');
  const hexOf = (digest: string) => parseDigest(digest).hex;
  const writeLink = async (file: string, digest: string) => {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, digest);
  };
  const blobs = new Set<string>();
  for (const image of images) {
    blobs.add(image.digest);
    for (const b of image.blobs) blobs.add(b.digest);
  }
  await settleAll([...blobs], 32, async (digest) => {
    const target = path.join(v2, 'blobs', 'sha256', hexOf(digest).slice(0, 2), hexOf(digest), 'data');
    await mkdir(path.dirname(target), { recursive: true });
    await link(path.join(wharfStorage, blobKey(parseDigest(digest))), target);
  });
  await settleAll(images, 32, async (image) => {
    const repo = path.join(v2, 'repositories', image.repository);
    for (const b of image.blobs) await writeLink(path.join(repo, '_layers', 'sha256', hexOf(b.digest), 'link'), b.digest);
    await writeLink(path.join(repo, '_manifests', 'revisions', 'sha256', hexOf(image.digest), 'link'), image.digest);
    if (image.tag) {
      await writeLink(path.join(repo, '_manifests', 'tags', image.tag, 'current', 'link'), image.digest);
      await writeLink(path.join(repo, '_manifests', 'tags', image.tag, 'index', 'sha256', hexOf(image.digest), 'link'), image.digest);
    }
  });
}

async function distributionGc(dir: string, root: string): Promise<{ ms: number; summary: string }> {
  const config = path.join(dir, 'distribution.yml');
  await writeFile(config, `version: 0.1\nlog: {level: error}\nstorage:\n  filesystem: {rootdirectory: ${root}}\n  delete: {enabled: true}\nhttp: {addr: 127.0.0.1:0}\n`);
  const started = Date.now();
  const result = spawnSync('docker-registry', ['garbage-collect', '--delete-untagged', config], { encoding: 'utf8', maxBuffer: 512 << 20 });
  if (result.status !== 0) throw new Error(`docker-registry garbage-collect: ${result.status} ${result.stderr.slice(-500)}`);
  const summary = /(\d+ blobs marked, \d+ blobs and \d+ manifests eligible for deletion)/.exec(result.stdout + result.stderr)?.[1] ?? '';
  return { ms: Date.now() - started, summary };
}

const dir = await makeTempDir('wharf-gc-bench-');
const dataDir = path.join(dir, 'data');
const out: Record<string, unknown> = { store: args.store, db: args.db, dutyCycle: args['duty-cycle'] === undefined ? 'default' : Number(args['duty-cycle']), ...spec, progress: undefined };
let db: Db;
let dbConfig: ConfigObject = {};
let dropDatabase: (() => Promise<void>) | undefined;
if (args.db === 'postgres') {
  const fresh = await freshDatabase(undefined, 'wharf_gcbench');
  dropDatabase = fresh.drop;
  db = await openDatabase({ driver: 'postgres', url: fresh.url, poolSize: 8 });
  dbConfig = { database: { driver: 'postgres', postgres: { url: fresh.url } } };
} else {
  db = await openDatabase({ driver: 'sqlite', path: path.join(dataDir, 'wharf.db') });
}
let storageConfig: ConfigObject = {};
/** A driver on the bench's store (the bucket prefix or the data directory). */
let openStorage = (): StorageDriver => filesystemDriver(path.join(dataDir, 'storage'));
if (args.store === 's3') {
  const s3 = s3TestEnv();
  if (!s3) throw new Error('--store s3 needs WHARF_TEST_S3_ENDPOINT, _ACCESS_KEY, _SECRET_KEY');
  const s3Options = { endpoint: s3.endpoint, accessKey: s3.accessKey, secretKey: s3.secretKey, bucket: s3.bucket, region: s3.region, forcePathStyle: true, rootDirectory: `wharf-bench/${uniquePrefix('gc')}` };
  openStorage = () => s3Driver(s3Options);
  storageConfig = { storage: { driver: 's3', s3: s3Options } };
}
const storage = openStorage();

try {
  const images = benchImages(spec);
  const setup = await timed(() => writeImages(db, storage, images, spec));
  log('');
  out.setupSeconds = setup.ms / 1000;
  await db.destroy();
  await storage.close();

  if (args.store === 'filesystem' && !args['no-distribution']) {
    const root = path.join(dir, 'distribution');
    await distributionLayout(root, path.join(dataDir, 'storage'), images);
    const distribution = await distributionGc(dir, root);
    out.distribution = { seconds: distribution.ms / 1000, summary: distribution.summary };
    log(`distribution: ${JSON.stringify(out.distribution)}`);
  }

  const server = await startWharf({
    dataDir,
    config: [{ gc: { schedule: 'off', untaggedGraceHours: 0, ...(args['duty-cycle'] !== undefined ? { dutyCycle: Number(args['duty-cycle']) } : {}) }, log: { accessLog: false, level: 'warn' } }, dbConfig, storageConfig],
    env: { WHARF_ADMIN_USER: ADMIN.username, WHARF_ADMIN_PASSWORD: ADMIN.password },
    readyTimeoutMs: 120_000,
  });
  try {
    const paths = images.filter((i) => i.tag !== null).slice(0, 500).map((i) => `/v2/${i.repository}/manifests/${i.tag}`);
    if (!args['no-load']) {
      await wrk(dir, server.url, paths, 2);
      out.idle = await wrk(dir, server.url, paths, seconds);
      log(`idle: ${JSON.stringify(out.idle)}`);
    }
    const started = await request('POST', `${server.url}/api/v1/gc`, { auth: ADMIN, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ graceSeconds: 0 }) });
    if (started.status !== 202) throw new Error(`POST /gc: ${started.status} ${started.text()}`);
    const id = started.json<{ id: string }>().id;
    const finished = (async () => {
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        const run = (await request('GET', `${server.url}/api/v1/gc/runs/${id}`, { auth: ADMIN })).json<Record<string, unknown>>();
        if (run.status !== 'running') return run;
      }
    })();
    const slice = Number(args.timeline);
    if (!args['no-load'] && slice > 0) out.timeline = await timeline(dir, server.url, paths, slice, finished);
    else if (!args['no-load']) out.duringGc = await wrk(dir, server.url, paths, 3600, finished);
    const report = await finished;
    out.gc = { seconds: Number(report.durationMs) / 1000, manifests: report.manifests, links: report.links, blobs: report.blobs, bytesFreed: report.bytesFreed, status: report.status };
    if (out.idle && out.duringGc) out.p99Ratio = (out.duringGc as WrkResult).p99 / (out.idle as WrkResult).p99;
  } finally {
    await server.stop();
  }
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
} finally {
  if (args.store === 's3') {
    // What the run left in the bucket goes too.
    const cleanup = openStorage();
    const keys: string[] = [];
    for await (const key of cleanup.list('')) keys.push(key);
    await settleAll(keys, 64, (key) => cleanup.delete(key));
    await cleanup.close();
  }
  // pg's pool says goodbye to the server after end() resolves: give it a moment before the drop.
  await new Promise((resolve) => setTimeout(resolve, 300));
  await dropDatabase?.();
  await removeDir(dir);
}
