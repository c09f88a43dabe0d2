/**
 * Real clients pulling through the mirror, in each of the three ways an upstream is reached:
 * skopeo from a proxy project (`<wharf>/hub/t/app`), podman with a registries.conf mirror
 * (dockerd's registry-mirrors: the root name `t/app` → the default upstream), and containerd
 * (`ctr` with a hosts.toml mirror, which adds `?ns=quay.io`). Then the upstream goes away.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClientEnv, hasClient, missingClients, type ClientEnv } from '../fixtures/clients.js';
import { get } from '../fixtures/http.js';
import { makeTestImages } from '../fixtures/images.js';
import { makeTempDir, removeDir } from '../fixtures/paths.js';
import { killOnExit, startWharf, type WharfServer } from '../fixtures/server.js';
import { startCountingProxy, type CountingProxy } from '../integration/mirror-fixtures.js';

const skip = missingClients('skopeo', 'podman');

describe('mirror: real clients', { skip }, () => {
  let upstream: WharfServer;
  let proxy: CountingProxy;
  let mirror: WharfServer;
  let c: ClientEnv;

  before(async () => {
    upstream = await startWharf();
    proxy = await startCountingProxy(upstream.url);
    mirror = await startWharf({
      config: {
        mirror: {
          upstreams: [
            { name: 'hub', url: proxy.url, registry: 'docker.io', ttlSeconds: 1, default: true },
            { name: 'quay', url: proxy.url, registry: 'quay.io', ttlSeconds: 1 },
          ],
        },
      },
    });
    c = await createClientEnv({
      registries: [upstream.host, mirror.host],
      // podman: docker.io is served by the mirror (no internet here: only the mirror can answer)
      registriesConfExtra: `[[registry]]\nprefix = "docker.io"\nlocation = "docker.io"\n[[registry.mirror]]\nlocation = "${mirror.host}"\ninsecure = true\n`,
    });
    const layout = await makeTestImages(path.join(c.dir, 'layout'), 64 * 1024);
    await c.skopeo(['copy', `oci:${layout}:amd64`, `docker://${upstream.host}/t/app:v1`]);
    await c.skopeo(['copy', `oci:${layout}:arm64`, `docker://${upstream.host}/t/other:v1`]);
  });
  after(async () => {
    await c?.cleanup();
    await mirror?.stop();
    await proxy?.close();
    await upstream?.stop();
  });

  test('skopeo copy from a proxy project; the second copy makes no upstream blob request', async () => {
    proxy.reset();
    await c.skopeo(['copy', `docker://${mirror.host}/hub/t/app:v1`, `oci:${path.join(c.dir, 'out1')}:v1`]);
    assert.ok(proxy.blobGets() >= 2, 'config and layer fetched upstream');
    proxy.reset();
    await c.skopeo(['copy', `docker://${mirror.host}/hub/t/app:v1`, `oci:${path.join(c.dir, 'out2')}:v1`]);
    assert.deepEqual(proxy.blobRequests(), []);
  });

  test('podman pull with a registries.conf mirror (registry-mirrors: root name → default upstream)', async () => {
    const pulled = await c.podman(['pull', '-q', 'docker.io/t/app:v1']);
    assert.match(pulled.stdout.trim(), /^[0-9a-f]{64}$/);
    const images = await c.podman(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    assert.match(images.stdout, /docker\.io\/t\/app:v1/);
  });

  test('containerd (ctr) with a hosts.toml mirror: ?ns=quay.io selects the quay upstream', { skip: hasClient('ctr') && hasClient('containerd') ? undefined : 'containerd not installed' }, async (t) => {
    const dir = await makeTempDir('mirror-containerd-');
    t.after(() => removeDir(dir));
    const socket = path.join(dir, 'containerd.sock');
    await writeFile(
      path.join(dir, 'containerd.toml'),
      `version = 2\nroot = "${dir}/root"\nstate = "${dir}/state"\n[grpc]\n  address = "${socket}"\n[plugins."io.containerd.grpc.v1.cri"]\n  disable_tcp_service = true\n`,
    );
    await mkdir(path.join(dir, 'hosts', 'quay.io'), { recursive: true });
    await writeFile(
      path.join(dir, 'hosts', 'quay.io', 'hosts.toml'),
      `server = "https://quay.io"\n[host."http://${mirror.host}"]\n  capabilities = ["pull", "resolve"]\n`,
    );
    const daemon = spawn('containerd', ['--config', path.join(dir, 'containerd.toml')], { stdio: 'ignore' });
    killOnExit(daemon);
    t.after(async () => {
      daemon.kill('SIGTERM');
      await new Promise((resolve) => daemon.once('exit', resolve));
    });
    for (let i = 0; i < 100; i++) {
      if ((await c.run('ctr', ['-a', socket, 'version'], { allowFailure: true })).code === 0) break;
      await sleep(100);
    }
    proxy.reset();
    await c.run('ctr', ['-a', socket, 'images', 'pull', '--hosts-dir', path.join(dir, 'hosts'), 'quay.io/t/app:v1'], { timeoutMs: 120_000 });
    const listed = await c.run('ctr', ['-a', socket, 'images', 'ls', '-q']);
    assert.match(listed.stdout, /quay\.io\/t\/app:v1/);
    // the quay upstream (cache repository quay/t/app) had to fetch it: the hub cache was not used
    assert.ok(proxy.requests.some((r) => r.startsWith('GET /v2/t/app/manifests/')), 'the upstream was asked');
  });

  test('upstream stopped: a cached image still pulls, an uncached one fails with a clear error', async () => {
    await proxy.close();
    await sleep(1100); // past the 1 s TTL: the cached tag cannot be revalidated
    await c.skopeo(['copy', `docker://${mirror.host}/hub/t/app:v1`, `oci:${path.join(c.dir, 'offline')}:v1`]);
    const podman = await c.podman(['pull', '-q', 'docker.io/t/app:v1']);
    assert.equal(podman.code, 0);
    const failed = await c.skopeo(['inspect', `docker://${mirror.host}/hub/t/other:v1`], { allowFailure: true });
    assert.notEqual(failed.code, 0);
    // c/image prints only the status of a 503; the body carries the spec's code and names the upstream
    assert.match(failed.stderr, /503 Service Unavailable/);
    const raw = await get(`${mirror.url}/v2/hub/t/other/manifests/v1`);
    assert.equal(raw.status, 503);
    const error = raw.json<{ errors: Array<{ code: string; message: string }> }>().errors[0]!;
    assert.equal(error.code, 'UNAVAILABLE');
    assert.match(error.message, /upstream hub \(http:\/\/127\.0\.0\.1:\d+\) is (unreachable|unavailable)/);
  });
});
