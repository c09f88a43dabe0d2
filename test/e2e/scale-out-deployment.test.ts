/**
 * The reference deployment (scripts/deploy-local.sh: nginx, three Wharf instances, PostgreSQL,
 * Ceph RGW, all of the test's own) under real clients and real faults: skopeo pushes spread over
 * the instances and pulls through nginx, an instance SIGKILLed mid-push, PostgreSQL restarted and
 * the S3 gateway stopped for 30 s under a stream of pushes and pulls, and the mirror's
 * single-flight counted at the upstream with pulls spread over the three instances.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { createClientEnv, missingClients, type ClientEnv } from '../fixtures/clients.js';
import { get, patch, post, pushImage, put, request, type Response } from '../fixtures/http.js';
import { ociImage, randomBlob, sha256, type Image } from '../fixtures/images.js';
import { assertSkopeoPull, writeLayeredImage, type LayeredImage } from '../fixtures/oci-layout.js';
import { keepTempDirs, makeTempDir, removeDir, repoRoot } from '../fixtures/paths.js';
import { startWharf, type WharfServer } from '../fixtures/server.js';
import { hashStream, startCountingProxy, type CountingProxy } from '../integration/mirror-fixtures.js';

const execFileP = promisify(execFile);
const MiB = 1024 * 1024;
const SCRIPT = path.join(repoRoot, 'scripts', 'deploy-local.sh');
const skip = missingClients('skopeo', 'nginx', 'radosgw') ?? (process.env.SKIP_SERVICES === '1' ? 'SKIP_SERVICES=1' : undefined);

interface Deployment {
  dir: string;
  url: string;
  host: string;
  instances: string[];
  admin: { username: string; password: string };
  postgresUrl: string;
}

async function deployLocal(args: string[], dir: string, env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await execFileP('bash', [SCRIPT, ...args, dir], { env: { ...process.env, ...env }, timeout: 180_000, maxBuffer: 1 << 20 });
  return stdout;
}

type PushOutcome = { ok: true } | { ok: false; status: number; code: string };

/** Push every blob and the manifest; the first answer that is not a success, if any. */
async function tryPushImage(url: string, repo: string, tag: string, image: Image, bearer: string): Promise<PushOutcome> {
  const failed = (r: Response): PushOutcome => ({ ok: false, status: r.status, code: errorCode(r) });
  for (const [digest, bytes] of image.blobs) {
    const start = await post(`${url}/v2/${repo}/blobs/uploads/`, { bearer });
    if (start.status !== 202) return failed(start);
    const sent = await patch(new URL(String(start.headers.location), url), { bearer, headers: { 'content-type': 'application/octet-stream' }, body: bytes });
    if (sent.status !== 202) return failed(sent);
    const done = new URL(String(sent.headers.location), url);
    done.searchParams.set('digest', digest);
    const finished = await put(done, { bearer });
    if (finished.status !== 201) return failed(finished);
  }
  const manifest = await put(`${url}/v2/${repo}/manifests/${tag}`, { bearer, headers: { 'content-type': image.manifest.mediaType }, body: image.manifest.bytes });
  return manifest.status === 201 ? { ok: true } : failed(manifest);
}

function errorCode(response: Response): string {
  try {
    return response.json<{ errors?: Array<{ code: string }> }>().errors?.[0]?.code ?? '';
  } catch {
    return '';
  }
}

/**
 * `location` (an upload URL, absolute with http.publicUrl: nginx) on the instance or proxy at
 * `base`: how a test forces a request onto one instance.
 */
function on(base: string, location: string): URL {
  const target = new URL(location, base);
  return new URL(`${target.pathname}${target.search}`, base);
}

/**
 * The bytes an upload session holds, from its status (`Range: 0-<last>`). "0-0" is read as empty:
 * on S3 a session holds 0 bytes or whole parts, never exactly one byte.
 */
async function sessionSize(url: string, location: string, bearer: string): Promise<number> {
  const status = await get(on(url, location), { bearer });
  assert.equal(status.status, 204, status.text());
  const last = Number(/^0-(\d+)$/.exec(String(status.headers.range))?.[1] ?? 0);
  return last === 0 ? 0 : last + 1;
}

/** The manifest and every blob of `image` under `tag`, byte for byte. */
async function assertPulls(url: string, repo: string, tag: string, image: Image, bearer: string): Promise<void> {
  const manifest = await get(`${url}/v2/${repo}/manifests/${tag}`, { bearer, headers: { accept: image.manifest.mediaType } });
  assert.equal(manifest.status, 200, `${repo}:${tag}: ${manifest.text()}`);
  assert.equal(sha256(manifest.body), image.manifest.digest);
  for (const digest of image.blobs.keys()) {
    const blob = await get(`${url}/v2/${repo}/blobs/${digest}`, { bearer });
    assert.equal(blob.status, 200, `${repo} ${digest}`);
    assert.equal(sha256(blob.body), digest);
  }
}

describe('the reference deployment: nginx, three instances, PostgreSQL, Ceph RGW', { skip }, () => {
  let dir: string;
  let deployment: Deployment;
  let upstream: WharfServer;
  let proxy: CountingProxy;
  let clients: ClientEnv;
  let layered: LayeredImage;

  const token = async (scope: string): Promise<string> => {
    const response = await get(`${deployment.url}/token?service=wharf&scope=${encodeURIComponent(scope)}`, { auth: deployment.admin });
    assert.equal(response.status, 200, response.text());
    return response.json<{ token: string }>().token;
  };
  /** Every instance running (idempotent: a test that failed midway may have left one stopped). */
  const allInstances = async (): Promise<void> => {
    for (const n of [1, 2, 3]) await deployLocal(['instance', 'start', String(n)], dir);
  };
  const instancePids = async (): Promise<number[]> =>
    Promise.all(deployment.instances.map(async (_, i) => Number(await readFile(path.join(dir, 'wharf', `${i + 1}.pid`), 'utf8'))));
  const assertInstancesRunning = async (pids: number[]): Promise<void> => {
    assert.deepEqual(await instancePids(), pids, 'the same processes');
    for (const pid of pids) assert.doesNotThrow(() => process.kill(pid, 0), `instance pid ${pid} is running`);
  };
  const readyEverywhere = async (failing: string[] | 'ok', timeoutMs = 60_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      const answers = await Promise.all(deployment.instances.map((url) => get(`${url}/readyz`, { timeoutMs: 10_000 }).catch(() => undefined)));
      last = answers.map((r) => (r ? `${r.status} ${r.text()}` : 'no answer')).join(' | ');
      const ok = answers.every((r) => {
        if (!r) return false;
        const body = r.json<{ failing: string[] }>();
        return failing === 'ok' ? r.status === 200 : r.status === 503 && JSON.stringify(body.failing) === JSON.stringify(failing);
      });
      if (ok) return;
      if (Date.now() > deadline) assert.fail(`readyz never reached ${JSON.stringify(failing)} on every instance: ${last}`);
      await sleep(250);
    }
  };

  before(async () => {
    dir = await makeTempDir('wharf-deploy-');
    // PostgreSQL runs as its own user (start-postgres.sh) and must reach its directory in here.
    await chmod(dir, 0o755);
    upstream = await startWharf();
    proxy = await startCountingProxy(upstream.url);
    const extra = path.join(dir, 'extra.yml');
    await writeFile(extra, `mirror:\n  upstreams:\n    - name: up\n      url: ${proxy.url}\n      registry: registry.up.test\n`);
    // From here on `after` stops whatever part of the deployment started.
    dir = path.join(dir, 'deploy');
    const env = Object.fromEntries(
      [...(await deployLocal(['start'], dir, { EXTRA_CONFIG: extra, INSTANCES: '3' })).matchAll(/^(WHARF_DEPLOY_\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]),
    );
    const url = env.WHARF_DEPLOY_URL!;
    deployment = {
      dir,
      url,
      host: new URL(url).host,
      instances: [1, 2, 3].map((i) => env[`WHARF_DEPLOY_INSTANCE_${i}`]!),
      admin: { username: env.WHARF_DEPLOY_ADMIN_USER!, password: env.WHARF_DEPLOY_ADMIN_PASSWORD! },
      postgresUrl: env.WHARF_DEPLOY_POSTGRES_URL!,
    };
    const hosts = [deployment.host, ...deployment.instances.map((u) => new URL(u).host)];
    clients = await createClientEnv({ registries: hosts });
    for (const host of hosts) await clients.skopeo(['login', '--username', deployment.admin.username, '--password-stdin', host], { input: deployment.admin.password });
    layered = await writeLayeredImage(path.join(clients.dir, 'layout'), 'layered', [4096, 6 * MiB, 200 * 1024]);
  });
  after(async () => {
    if (dir) await deployLocal(['stop'], dir).catch(() => undefined);
    await clients?.cleanup();
    await proxy?.close();
    await upstream?.stop();
    if (dir && !keepTempDirs()) await removeDir(path.dirname(dir));
  });

  test('skopeo pushes land on every instance; pulls through nginx; one upload spread over all three', async () => {
    // Each instance directly, then through nginx (which spreads the requests of one push).
    for (const [i, url] of deployment.instances.entries()) {
      await clients.skopeo(['copy', `oci:${layered.layout}:layered`, `docker://${new URL(url).host}/team/app:direct-${i + 1}`]);
    }
    await clients.skopeo(['copy', `oci:${layered.layout}:layered`, `docker://${deployment.host}/team/app:via-nginx`]);
    for (const tag of ['direct-1', 'direct-2', 'direct-3', 'via-nginx']) {
      await assertSkopeoPull(clients, `docker://${deployment.host}/team/app:${tag}`, layered);
    }
    const logs = await Promise.all([1, 2, 3].map((i) => readFile(path.join(dir, 'wharf', `${i}.log`), 'utf8')));
    for (const [i, text] of logs.entries()) assert.match(text, /"method":"PATCH"/, `instance ${i + 1} served PATCH requests`);

    // One upload, its requests forced onto the three instances in turn.
    const bearer = await token('repository:team/spread:pull,push');
    const blob = randomBlob(3 * MiB);
    const [a, b, c] = deployment.instances as [string, string, string];
    const start = await post(`${a}/v2/team/spread/blobs/uploads/`, { bearer });
    assert.equal(start.status, 202);
    let location = String(start.headers.location);
    for (const [index, url] of [b, c].entries()) {
      const from = index * (blob.length / 2);
      const chunk = blob.subarray(from, from + blob.length / 2);
      const sent = await patch(on(url, location), { bearer, headers: { 'content-type': 'application/octet-stream', 'content-range': `${from}-${from + chunk.length - 1}` }, body: chunk });
      assert.equal(sent.status, 202, sent.text());
      location = String(sent.headers.location);
    }
    const done = on(a, location);
    done.searchParams.set('digest', sha256(blob));
    assert.equal((await put(done, { bearer })).status, 201);
    assert.equal(sha256((await get(`${deployment.url}/v2/team/spread/blobs/${sha256(blob)}`, { bearer })).body), sha256(blob));
  });

  test('an instance SIGKILLed mid-push: the retry completes through nginx on another instance', async (t) => {
    await allInstances();
    const pids = await instancePids();
    const bearer = await token('repository:team/killed:pull,push');
    const blob = randomBlob(40 * MiB);
    const victim = deployment.instances[1]!;
    const start = await post(`${victim}/v2/team/killed/blobs/uploads/`, { bearer });
    const location = String(start.headers.location);
    const body = new PassThrough();
    const cut = patch(on(victim, location), { bearer, headers: { 'content-type': 'application/octet-stream' }, body }).then(
      (r) => r.status,
      () => 'cut' as const,
    );
    try {
      body.write(blob.subarray(0, 24 * MiB));
      // Killed once a part (16 MiB on S3) of the session is stored: the retry must continue it.
      for (let i = 0; i < 600 && (await sessionSize(deployment.instances[0]!, location, bearer)) === 0; i++) await sleep(50);
      await deployLocal(['instance', 'kill', '2'], dir);
      assert.equal(await cut, 'cut', 'the PATCH was cut by the kill');
    } finally {
      body.destroy();
    }

    // The client retries through nginx: the session's state is in PostgreSQL and the bucket.
    const stored = await sessionSize(deployment.url, location, bearer);
    assert.ok(stored > 0 && stored <= 24 * MiB, `stored ${stored}`);
    const rest = await patch(on(deployment.url, location), {
      bearer,
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${stored}-${blob.length - 1}` },
      body: blob.subarray(stored),
    });
    assert.equal(rest.status, 202, rest.text());
    const done = new URL(String(rest.headers.location), deployment.url);
    done.searchParams.set('digest', sha256(blob));
    assert.equal((await put(done, { bearer })).status, 201);
    assert.equal(sha256((await get(`${deployment.url}/v2/team/killed/blobs/${sha256(blob)}`, { bearer })).body), sha256(blob));

    // skopeo pushing through nginx while an instance dies: whatever it was doing there fails, and
    // the client's retry (another skopeo copy) completes on the instances left.
    await deployLocal(['instance', 'start', '2'], dir);
    const big = await writeLayeredImage(path.join(clients.dir, 'big'), 'big', [48 * MiB, 24 * MiB]);
    const db = new pg.Client({ connectionString: deployment.postgresUrl });
    await db.connect();
    let first;
    try {
      const open = async () => Number((await db.query('select count(*) as n from uploads')).rows[0].n);
      const before = await open();
      const push = clients.skopeo(['copy', `oci:${big.layout}:big`, `docker://${deployment.host}/team/killed:skopeo`], { allowFailure: true });
      // Mid-push: once skopeo has opened its upload sessions.
      for (let i = 0; i < 600 && (await open()) <= before; i++) await sleep(50);
      await sleep(300);
      await deployLocal(['instance', 'kill', '2'], dir);
      first = await push;
    } finally {
      await db.end();
    }
    t.diagnostic(`skopeo's first attempt while instance 2 was killed: exit ${first.code}`);
    if (first.code !== 0) await clients.skopeo(['copy', `oci:${big.layout}:big`, `docker://${deployment.host}/team/killed:skopeo`]);
    await assertSkopeoPull(clients, `docker://${deployment.host}/team/killed:skopeo`, big);
    await deployLocal(['instance', 'start', '2'], dir);
    const restarted = await instancePids();
    for (const [i, pid] of pids.entries()) if (i !== 1) assert.equal(restarted[i], pid, `instance ${i + 1} kept running`);
  });

  /**
   * Pushes and pulls through nginx until `stop`: every push completes or fails with 503
   * UNAVAILABLE (then it is retried once the fault is over); pulls answer 200 or 503.
   */
  async function traffic(repo: string, bearer: string, stop: () => boolean) {
    const pushed: Array<{ tag: string; image: Image; outcome: PushOutcome }> = [];
    const pullStatuses = new Map<number, number>();
    const pusher = async (worker: number) => {
      for (let i = 0; !stop(); i++) {
        const image = ociImage({ layers: [randomBlob(32 * 1024)] });
        const tag = `w${worker}-${i}`;
        const outcome = await tryPushImage(deployment.url, repo, tag, image, bearer).catch((error: unknown) => ({ ok: false, status: 0, code: String(error) }) as PushOutcome);
        pushed.push({ tag, image, outcome });
        // A client backs off after a 503 (it says Retry-After) rather than hammering.
        if (!outcome.ok) await sleep(500);
      }
    };
    const puller = async () => {
      while (!stop()) {
        const done = pushed.filter((p) => p.outcome.ok);
        const pick = done[Math.floor(Math.random() * done.length)];
        if (!pick) {
          await sleep(50);
          continue;
        }
        const r = await get(`${deployment.url}/v2/${repo}/manifests/${pick.tag}`, { bearer, headers: { accept: pick.image.manifest.mediaType } });
        pullStatuses.set(r.status, (pullStatuses.get(r.status) ?? 0) + 1);
        if (r.status !== 200) await sleep(100);
      }
    };
    await Promise.all([pusher(1), pusher(2), puller()]);
    return { pushed, pullStatuses };
  }

  async function checkAfterFault(repo: string, bearer: string, run: Awaited<ReturnType<typeof traffic>>): Promise<void> {
    const failed = run.pushed.filter((p) => !p.outcome.ok);
    for (const { outcome } of failed) {
      assert.deepEqual(outcome, { ok: false, status: 503, code: 'UNAVAILABLE' }, 'a push fails cleanly');
    }
    assert.ok(failed.length > 0, 'the fault was seen by some push');
    assert.deepEqual([...run.pullStatuses.keys()].filter((s) => s !== 200 && s !== 503), [], `pull statuses ${JSON.stringify([...run.pullStatuses])}`);
    for (const p of failed) assert.deepEqual(await tryPushImage(deployment.url, repo, p.tag, p.image, bearer), { ok: true }, `retry of ${p.tag}`);
    for (const p of run.pushed) await assertPulls(deployment.url, repo, p.tag, p.image, bearer);
  }

  /**
   * `service` (deploy-local.sh's postgres or rgw) stopped for at least `downMs` under traffic,
   * then started: /readyz names `dependency` on every instance meanwhile, every push and pull
   * outcome is clean, every failed push succeeds when retried, every instance is the same process.
   */
  async function outage(service: 'postgres' | 'rgw', dependency: string, downMs: number, repo: string): Promise<void> {
    await allInstances();
    const pids = await instancePids();
    const bearer = await token(`repository:${repo}:pull,push`);
    let stopping = false;
    const running = traffic(repo, bearer, () => stopping);
    await sleep(2000);
    await deployLocal([service, 'stop'], dir);
    const downAt = Date.now();
    await readyEverywhere([dependency]);
    await sleep(Math.max(0, downMs - (Date.now() - downAt)));
    await deployLocal([service, 'start'], dir);
    await readyEverywhere('ok');
    await sleep(2000);
    stopping = true;
    await checkAfterFault(repo, bearer, await running);
    await assertInstancesRunning(pids);
  }

  test('PostgreSQL restarted under pushes and pulls: clean failures, retries complete, no instance exits', async () => {
    await outage('postgres', 'database', 3000, 'team/pg');
  });

  test('the S3 gateway stopped for 30 s under pushes and pulls: 503 meanwhile, recovery without restarts', async () => {
    await outage('rgw', 'storage', 30_000, 'team/s3');
    await assertSkopeoPull(clients, `docker://${deployment.host}/team/app:via-nginx`, layered);
  });

  test('mirror single-flight: pulls of one uncached blob spread over three instances, one upstream download', async (t) => {
    await allInstances();
    const bearer = await token('repository:up/lib/one:pull');
    // Held mid-body upstream, so the three requests surely overlap.
    const layer = randomBlob(4 * MiB);
    await pushLayer(upstream.url, 'lib/one', 'held', layer);
    proxy.mode = 'stall';
    proxy.stallAfter = 256 * 1024;
    proxy.reset();
    try {
      const first = await request('GET', `${deployment.instances[0]}/v2/up/lib/one/blobs/${sha256(layer)}`, { bearer, stream: true });
      assert.equal(first.status, 200);
      const firstHash = hashStream(first.response);
      const others = deployment.instances.slice(1).map((url) => get(`${url}/v2/up/lib/one/blobs/${sha256(layer)}`, { bearer, timeoutMs: 120_000 }));
      await sleep(1000);
      proxy.release();
      assert.equal((await firstHash).digest, sha256(layer));
      for (const response of await Promise.all(others)) assert.equal(sha256(response.body), sha256(layer));
    } finally {
      proxy.mode = 'pass';
      proxy.release();
    }
    assert.equal(proxy.blobGets(sha256(layer)), 1, 'held download: one upstream GET');

    // Not held: three requests at the same moment, one per instance, five times.
    const counts: number[] = [];
    for (let round = 0; round < 5; round++) {
      const bytes = randomBlob(1 * MiB);
      await pushLayer(upstream.url, 'lib/one', `r${round}`, bytes);
      proxy.reset();
      const answers = await Promise.all(deployment.instances.map((url) => get(`${url}/v2/up/lib/one/blobs/${sha256(bytes)}`, { bearer, timeoutMs: 120_000 })));
      for (const answer of answers) assert.equal(sha256(answer.body), sha256(bytes));
      counts.push(proxy.blobGets(sha256(bytes)));
    }
    t.diagnostic(`upstream GETs per blob asked of three instances at once: ${counts.join(', ')}`);
    assert.deepEqual(counts, [1, 1, 1, 1, 1]);
  });
});

/** An image with the one layer `layer`, pushed straight to the upstream. */
async function pushLayer(url: string, repo: string, tag: string, layer: Buffer): Promise<void> {
  await pushImage(url, repo, tag, ociImage({ layers: [layer] }));
}
