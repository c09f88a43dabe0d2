/**
 * The core registry with real clients: skopeo (copy in and out, --all, --format v2s2, inspect,
 * list-tags, delete, a cross-repository copy that mounts), podman push/pull, buildah push.
 * One server for the file; images are made offline with makeTestImages.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createClientEnv, missingClients, type ClientEnv } from '../fixtures/clients.js';
import { get, head } from '../fixtures/http.js';
import { MEDIA, makeTestImages } from '../fixtures/images.js';
import { startWharf, type WharfServer } from '../fixtures/server.js';

interface LayoutIndex {
  manifests: Array<{ mediaType: string; digest: string; size: number; annotations?: Record<string, string> }>;
}

interface AccessLine {
  msg: string;
  method: string;
  path: string;
  status: number;
}

const sha256 = (b: Buffer | string) => 'sha256:' + createHash('sha256').update(b).digest('hex');

/** Digest of ref `name` in an OCI layout. */
async function layoutDigest(layout: string, name: string): Promise<string> {
  const index = JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8')) as LayoutIndex;
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === name);
  assert.ok(entry, `ref ${name} in ${layout}`);
  return entry.digest;
}

/** The server's access-log lines so far. */
function accessLog(srv: WharfServer): AccessLine[] {
  const out: AccessLine[] = [];
  for (const line of srv.logs().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const j = JSON.parse(line) as AccessLine;
      if (j.msg === 'request completed') out.push(j);
    } catch {
      // not JSON
    }
  }
  return out;
}

const skip = missingClients('skopeo');

describe('real clients against the core registry', { skip }, () => {
  let srv: WharfServer;
  let c: ClientEnv;
  let layout: string;
  let host: string;

  before(async () => {
    srv = await startWharf();
    host = srv.host;
    c = await createClientEnv({ registries: [srv.host] });
    layout = await makeTestImages(path.join(c.dir, 'layout'), 2048);
  });
  after(async () => {
    await c?.cleanup();
    await srv?.stop();
  });

  /** `skopeo inspect --raw`, with the digest of the exact bytes. */
  async function raw(ref: string): Promise<{ digest: string; json: { mediaType?: string; manifests?: Array<{ digest: string }> } }> {
    const r = await c.skopeo(['inspect', '--raw', `docker://${ref}`]);
    return { digest: sha256(r.stdout), json: JSON.parse(r.stdout) as { mediaType?: string } };
  }

  test('skopeo copy single-platform in and out keeps the digest', async () => {
    const want = await layoutDigest(layout, 'amd64');
    await c.skopeo(['copy', `oci:${layout}:amd64`, `docker://${host}/e2e/single:v1`]);
    const pushed = await raw(`${host}/e2e/single:v1`);
    assert.equal(pushed.digest, want);
    assert.equal(pushed.json.mediaType, MEDIA.ociManifest);
    const m = await get(`${srv.url}/v2/e2e/single/manifests/v1`, { headers: { accept: MEDIA.ociManifest } });
    assert.equal(m.headers['docker-content-digest'], want);

    const out = path.join(c.dir, 'out-single');
    await c.skopeo(['copy', `docker://${host}/e2e/single:v1`, `oci:${out}:v1`]);
    assert.equal(await layoutDigest(out, 'v1'), want);
  });

  test('skopeo copy --all of a two-platform index in and out keeps every digest', async () => {
    const want = await layoutDigest(layout, 'multi');
    await c.skopeo(['copy', '--all', `oci:${layout}:multi`, `docker://${host}/e2e/multi:v1`]);
    const pushed = await raw(`${host}/e2e/multi:v1`);
    assert.equal(pushed.digest, want);
    assert.equal(pushed.json.mediaType, MEDIA.ociIndex);
    assert.equal(pushed.json.manifests?.length, 2);
    for (const child of pushed.json.manifests ?? []) {
      assert.equal((await head(`${srv.url}/v2/e2e/multi/manifests/${child.digest}`)).status, 200);
    }
    const out = path.join(c.dir, 'out-multi');
    await c.skopeo(['copy', '--all', `docker://${host}/e2e/multi:v1`, `oci:${out}:multi`]);
    assert.equal(await layoutDigest(out, 'multi'), want);
    const outIndex = JSON.parse(await readFile(path.join(out, 'blobs', 'sha256', want.slice(7)), 'utf8')) as LayoutIndex;
    assert.deepEqual(outIndex.manifests.map((m) => m.digest).sort(), (pushed.json.manifests ?? []).map((m) => m.digest).sort());
  });

  test('skopeo inspect (summary and --config) and list-tags', async () => {
    await c.skopeo(['copy', `oci:${layout}:arm64`, `docker://${host}/e2e/single:v2`]);
    const info = JSON.parse((await c.skopeo(['inspect', `docker://${host}/e2e/single:v1`])).stdout) as { Digest: string; Architecture: string; Os: string; Labels: Record<string, string> };
    assert.equal(info.Digest, await layoutDigest(layout, 'amd64'));
    assert.equal(info.Architecture, 'amd64');
    assert.equal(info.Os, 'linux');
    assert.equal(info.Labels['test.arch'], 'amd64');
    const config = JSON.parse((await c.skopeo(['inspect', '--config', `docker://${host}/e2e/single:v2`])).stdout) as { architecture: string; config: { Labels: Record<string, string> } };
    assert.equal(config.architecture, 'arm64');
    assert.equal(config.config.Labels['test.arch'], 'arm64');
    const tags = JSON.parse((await c.skopeo(['list-tags', `docker://${host}/e2e/single`])).stdout) as { Repository: string; Tags: string[] };
    assert.deepEqual(tags.Tags.sort(), ['v1', 'v2']);
  });

  test('skopeo delete removes the manifest; other tags stay', async () => {
    await c.skopeo(['copy', `oci:${layout}:amd64`, `docker://${host}/e2e/del:v1`]);
    await c.skopeo(['copy', `oci:${layout}:arm64`, `docker://${host}/e2e/del:v2`]);
    await c.skopeo(['delete', `docker://${host}/e2e/del:v1`]);
    const gone = await c.skopeo(['inspect', '--raw', `docker://${host}/e2e/del:v1`], { allowFailure: true });
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /manifest unknown|not found/i);
    const tags = JSON.parse((await c.skopeo(['list-tags', `docker://${host}/e2e/del`])).stdout) as { Tags: string[] };
    assert.deepEqual(tags.Tags, ['v2']);
    assert.equal((await head(`${srv.url}/v2/e2e/del/manifests/${await layoutDigest(layout, 'amd64')}`)).status, 404);
  });

  test('a copy between two repositories mounts the layer instead of re-uploading it', async () => {
    // e2e/single:v1 exists (first test); copying it registry-to-registry teaches the blob-info cache
    // where the layer lives, so the push to the new repository mounts it
    const amd = JSON.parse(await readFile(path.join(layout, 'blobs', 'sha256', (await layoutDigest(layout, 'amd64')).slice(7)), 'utf8')) as { layers: Array<{ digest: string }> };
    const layerDigest = amd.layers[0]!.digest;
    const before = accessLog(srv).length;
    await c.skopeo(['copy', `docker://${host}/e2e/single:v1`, `docker://${host}/e2e/mounted:v1`]);
    const lines = accessLog(srv).slice(before).filter((l) => l.path.startsWith('/v2/e2e/mounted/blobs/uploads'));
    const mounts = lines.filter((l) => l.method === 'POST' && l.status === 201);
    const sessions = lines.filter((l) => l.method === 'POST' && l.status === 202);
    const patches = lines.filter((l) => l.method === 'PATCH');
    printLines(lines);
    assert.equal(mounts.length, 1, 'the layer was mounted (POST → 201)');
    // only the config is uploaded (c/image never mounts configs)
    assert.equal(sessions.length, 1, 'one upload session, for the config');
    assert.equal(patches.length, 1, 'one PATCH, for the config');
    assert.equal((await head(`${srv.url}/v2/e2e/mounted/blobs/${layerDigest}`)).status, 200);
    assert.equal((await raw(`${host}/e2e/mounted:v1`)).digest, await layoutDigest(layout, 'amd64'));
  });

  test('--format v2s2: Docker media types pushed (single and --all) and pulled back', async () => {
    await c.skopeo(['copy', '--format', 'v2s2', `oci:${layout}:amd64`, `docker://${host}/e2e/docker:v1`]);
    const single = await raw(`${host}/e2e/docker:v1`);
    assert.equal(single.json.mediaType, MEDIA.dockerManifest);
    const m = await get(`${srv.url}/v2/e2e/docker/manifests/v1`, { headers: { accept: MEDIA.dockerManifest } });
    assert.equal(m.headers['content-type'], MEDIA.dockerManifest);
    assert.equal(m.headers['docker-content-digest'], single.digest);

    await c.skopeo(['copy', '--all', '--format', 'v2s2', `oci:${layout}:multi`, `docker://${host}/e2e/docker:list`]);
    const list = await raw(`${host}/e2e/docker:list`);
    assert.equal(list.json.mediaType, MEDIA.dockerList);
    assert.equal(list.json.manifests?.length, 2);

    const out = path.join(c.dir, 'out-docker');
    await c.skopeo(['copy', `docker://${host}/e2e/docker:v1`, `dir:${out}`]);
    const pulledManifest = await readFile(path.join(out, 'manifest.json'));
    assert.equal(sha256(pulledManifest), single.digest, 'pulled byte for byte');
    await c.skopeo(['copy', '--all', `docker://${host}/e2e/docker:list`, `dir:${out}-list`]);
    assert.equal(sha256(await readFile(path.join(`${out}-list`, 'manifest.json'))), list.digest);
  });

  test('podman pull and push (chunked uploads from containers-storage), then pull the pushed copy', { skip: missingClients('podman') }, async () => {
    await c.podman(['pull', '-q', `${host}/e2e/single:v1`]);
    await c.podman(['push', `${host}/e2e/single:v1`, `${host}/e2e/podman:v1`]);
    const pushed = await raw(`${host}/e2e/podman:v1`);
    assert.ok(pushed.json.mediaType === MEDIA.ociManifest || pushed.json.mediaType === MEDIA.dockerManifest, String(pushed.json.mediaType));
    await c.podman(['rmi', '-f', `${host}/e2e/single:v1`]);
    const pulled = await c.podman(['pull', '-q', `${host}/e2e/podman:v1`]);
    assert.match(pulled.stdout.trim(), /^[0-9a-f]{64}$/);
    const images = await c.podman(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    assert.match(images.stdout, new RegExp(`${host}/e2e/podman:v1`));
    // podman push --format v2s2 as well
    await c.podman(['push', '--format', 'v2s2', `${host}/e2e/podman:v1`, `${host}/e2e/podman:v2s2`]);
    assert.equal((await raw(`${host}/e2e/podman:v2s2`)).json.mediaType, MEDIA.dockerManifest);
  });

  test('buildah: build from scratch, push, and pull back', { skip: missingClients('buildah') }, async () => {
    const ctr = (await c.buildah(['from', '--quiet', 'scratch'])).stdout.trim();
    await c.buildah(['config', '--label', 'built.by=wharf-e2e', '--cmd', '/nothing', ctr]);
    await c.buildah(['commit', '--quiet', ctr, 'localhost/e2e-built:latest']);
    await c.buildah(['push', 'localhost/e2e-built:latest', `docker://${host}/e2e/buildah:v1`]);
    const config = JSON.parse((await c.skopeo(['inspect', '--config', `docker://${host}/e2e/buildah:v1`])).stdout) as { config: { Labels: Record<string, string> } };
    assert.equal(config.config.Labels['built.by'], 'wharf-e2e');
    await c.buildah(['rmi', '-f', 'localhost/e2e-built:latest']);
    await c.buildah(['pull', '-q', `${host}/e2e/buildah:v1`]);
    await c.buildah(['rm', ctr]);
  });

  test('the server logged no internal errors', () => {
    const bad = srv.logs().split('\n').filter((l) => /"level":"(error|fatal)"/.test(l));
    assert.deepEqual(bad, []);
    const fiveHundreds = accessLog(srv).filter((l) => l.status >= 500);
    assert.deepEqual(fiveHundreds, []);
  });
});

function printLines(lines: AccessLine[]): void {
  if (process.env.WHARF_TEST_VERBOSE === '1') for (const l of lines) process.stderr.write(`${l.method} ${l.path} ${l.status}\n`);
}
