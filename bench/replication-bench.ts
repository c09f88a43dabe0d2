/**
 * Replication benchmark: `--images` images sharing base layers, pushed to a source Wharf, copied
 * to CNCF Distribution (`docker-registry`, filesystem storage) by a Wharf push rule, then to a
 * fresh Distribution by `skopeo sync`: wall time and request-body bytes each sent to its target
 * (counted by a proxy in front of it). Every image has the same two base layers (`--base-mib`
 * in all) and one layer of its own (`--own-mib`); the defaults make about 1 GiB of distinct
 * content. Blobs are streamed, never held in memory; servers bind 127.0.0.1 and everything stops
 * at the end.
 *
 *   bash bench/replication-bench.sh [--images 20] [--base-mib 200] [--own-mib 40]
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createClientEnv, type ClientEnv } from '../test/fixtures/clients.js';
import { startDistribution, type Distribution } from '../test/fixtures/distribution.js';
import { get, post, pushBlob, pushManifest } from '../test/fixtures/http.js';
import { sha256 } from '../test/fixtures/images.js';
import type { WharfServer } from '../test/fixtures/server.js';
import { startCountingProxy, pushStreamedBlob, type CountingProxy } from '../test/integration/mirror-fixtures.js';
import { ADMIN, adminApi, startReplicatingWharf } from '../test/integration/replication-support.js';

const { values } = parseArgs({ options: { images: { type: 'string', default: '20' }, 'base-mib': { type: 'string', default: '200' }, 'own-mib': { type: 'string', default: '40' } } });
const MiB = 1 << 20;
const count = Number(values.images);
const baseBytes = Math.round(Number(values['base-mib']) * MiB);
const ownBytes = Math.round(Number(values['own-mib']) * MiB);
const LAYER = 'application/vnd.oci.image.layer.v1.tar';
const repoOf = (i: number) => `release/app-${String(i).padStart(2, '0')}`;

interface Target {
  registry: Distribution;
  proxy: CountingProxy;
}

async function startTarget(): Promise<Target> {
  const registry = await startDistribution(undefined);
  return { registry, proxy: await startCountingProxy(registry.url, { keepHost: true }) };
}

/** Pushes the images: the base layers once, mounted into every other repository. */
async function pushImages(source: WharfServer): Promise<Map<string, string>> {
  const auth = { auth: ADMIN };
  const half = Math.floor(baseBytes / 2);
  const base = [
    { digest: await pushStreamedBlob(source.url, repoOf(0), 'base-0', half, auth), size: half },
    { digest: await pushStreamedBlob(source.url, repoOf(0), 'base-1', baseBytes - half, auth), size: baseBytes - half },
  ];
  const digests = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    const repo = repoOf(i);
    if (i > 0) {
      for (const layer of base) {
        const mounted = await post(`${source.url}/v2/${repo}/blobs/uploads/?mount=${layer.digest}&from=${repoOf(0)}`, auth);
        if (mounted.status !== 201) throw new Error(`mount into ${repo}: ${mounted.status}`);
      }
    }
    const own = { digest: await pushStreamedBlob(source.url, repo, `own-${i}`, ownBytes, auth), size: ownBytes };
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, config: { Labels: { image: String(i) } } }));
    const configDigest = sha256(config);
    const pushed = await pushBlob(source.url, repo, configDigest, config, auth);
    if (pushed.status !== 201) throw new Error(`config of ${repo}: ${pushed.status}`);
    const layers = [...base, own].map((l) => ({ mediaType: LAYER, digest: l.digest, size: l.size }));
    const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length }, layers }));
    const manifest = await pushManifest(source.url, repo, '1.0', { bytes, mediaType: 'application/vnd.oci.image.manifest.v1+json' }, auth);
    if (manifest.status !== 201) throw new Error(`manifest of ${repo}: ${manifest.status}`);
    digests.set(repo, sha256(bytes));
  }
  return digests;
}

/** Every image is at the target, digest for digest. */
async function verify(target: Target, digests: Map<string, string>): Promise<void> {
  for (const [repo, digest] of digests) {
    const response = await get(`${target.registry.url}/v2/${repo}/manifests/1.0`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    if (response.status !== 200 || sha256(response.body) !== digest) throw new Error(`${repo}:1.0 missing or changed at the target (${response.status})`);
  }
}

const seconds = (startedAt: bigint) => Number(process.hrtime.bigint() - startedAt) / 1e9;
const mib = (bytes: number) => (bytes / MiB).toFixed(1);

const source = await startReplicatingWharf({ replication: { pollIntervalMs: 200 } });
const targets: Target[] = [];
let client: ClientEnv | undefined;
try {
  const api = adminApi(source);
  await api.ok('POST', '/projects', { name: 'release' });
  const distinct = baseBytes + count * ownBytes;
  process.stderr.write(`pushing ${count} images (${mib(distinct)} MiB distinct, ${mib(count * (baseBytes + ownBytes))} MiB as images)\n`);
  const digests = await pushImages(source);

  const forWharf = await startTarget();
  targets.push(forWharf);
  await api.createRule({ name: 'bench', kind: 'push', push: { project: 'release', target: { url: forWharf.proxy.url }, triggers: [] } });
  let startedAt = process.hrtime.bigint();
  const run = await api.waitForRun((await api.runNow('bench')).id, 3_600_000);
  const wharfSeconds = seconds(startedAt);
  if (run.status !== 'succeeded') throw new Error(`the run failed: ${JSON.stringify(run)}`);
  await verify(forWharf, digests);

  const forSkopeo = await startTarget();
  targets.push(forSkopeo);
  client = await createClientEnv({ registries: [source.host, forSkopeo.proxy.host] });
  const spec = path.join(client.dir, 'sync.yml');
  const images = [...digests.keys()].map((repo) => `    ${repo}: ["1.0"]`).join('\n');
  await writeFile(spec, `${source.host}:\n  tls-verify: false\n  credentials:\n    username: ${ADMIN.username}\n    password: ${ADMIN.password}\n  images:\n${images}\n`);
  startedAt = process.hrtime.bigint();
  await client.skopeo(['sync', '--src', 'yaml', '--dest', 'docker', '--dest-tls-verify=false', '--preserve-digests', spec, `${forSkopeo.proxy.host}/release`], { timeoutMs: 3_600_000 });
  const skopeoSeconds = seconds(startedAt);
  await verify(forSkopeo, digests);

  const requests = (t: Target) => t.proxy.requests.length;
  console.log(`| tool | time (s) | sent to the target (MiB) | requests | images |`);
  console.log(`|---|---|---|---|---|`);
  console.log(`| Wharf push rule | ${wharfSeconds.toFixed(1)} | ${mib(forWharf.proxy.bytesIn)} | ${requests(forWharf)} | ${run.images.done} copied |`);
  console.log(`| skopeo sync | ${skopeoSeconds.toFixed(1)} | ${mib(forSkopeo.proxy.bytesIn)} | ${requests(forSkopeo)} | ${count} |`);
  console.log(`distinct content ${mib(distinct)} MiB; Wharf run: ${run.blobs.copied} blobs copied, ${run.blobs.skipped} skipped or mounted`);
} finally {
  await client?.cleanup();
  for (const t of targets) {
    await t.proxy.close();
    await t.registry.stop();
  }
  await source.stop();
}
