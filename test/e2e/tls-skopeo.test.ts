/**
 * HTTPS with a certificate from files: a CA and a server certificate for 127.0.0.1 made here
 * with openssl; skopeo pushes and inspects with TLS verification on (--cert-dir holding ca.crt).
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { readFile } from 'node:fs/promises';
import YAML from 'yaml';
import { createClientEnv, missingClients, type ClientEnv } from '../fixtures/clients.js';
import { makeTestImages, sha256 } from '../fixtures/images.js';
import { makeTempDir, removeDir, repoRoot } from '../fixtures/paths.js';
import { freePort, killOnExit } from '../fixtures/server.js';

const execFileP = promisify(execFile);

/** A CA, and a server certificate for IP 127.0.0.1 signed by it (EC P-256: quick to make). */
async function makeCertificates(dir: string): Promise<{ caCert: string; cert: string; key: string; certDir: string }> {
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileP('openssl', args, { cwd: dir });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=Wharf test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  await openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  await writeFile(file('server.ext'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n');
  await openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt',
    '-days', '2', '-extfile', 'server.ext');
  // c/image reads every *.crt in a --cert-dir as a trusted CA.
  const certDir = file('certs.d');
  await mkdir(certDir);
  await writeFile(path.join(certDir, 'ca.crt'), await readFile(file('ca.crt')));
  return { caCert: file('ca.crt'), cert: file('server.crt'), key: file('server.key'), certDir };
}

interface TlsServer {
  port: number;
  output(): string;
  stop(): Promise<number | null>;
}

/** The fixture's readiness probe speaks plain HTTP: this waits for the "wharf listening" line. */
async function startTlsWharf(dir: string, tls: { certificate: string; key: string }): Promise<TlsServer> {
  const port = await freePort();
  const configPath = path.join(dir, 'config.yml');
  await writeFile(configPath, YAML.stringify({ dataDirectory: path.join(dir, 'data'), http: { address: '127.0.0.1', port, tls } }));
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'wharf'), 'serve', '--config', configPath], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killOnExit(child);
  let text = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('"msg":"wharf listening"')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => reject(new Error(`server exited (${code}) before listening:\n${text}`)));
    setTimeout(() => reject(new Error(`server not listening after 30 s:\n${text}`)), 30_000).unref();
  });
  return {
    port,
    output: () => text,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

function httpsGet(port: number, urlPath: string, ca?: Buffer, agent?: https.Agent): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: urlPath, ...(ca ? { ca } : {}), ...(agent ? { agent } : { agent: false }) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
  });
}

describe('TLS', { skip: missingClients('openssl', 'skopeo') }, () => {
  let dir: string;
  let certs: Awaited<ReturnType<typeof makeCertificates>>;
  let srv: TlsServer;
  let clients: ClientEnv;
  let ca: Buffer;
  before(async () => {
    dir = await makeTempDir('wharf-tls-');
    certs = await makeCertificates(dir);
    ca = await readFile(certs.caCert);
    srv = await startTlsWharf(dir, { certificate: certs.cert, key: certs.key });
    clients = await createClientEnv();
  });
  after(async () => {
    await clients?.cleanup();
    const code = await srv?.stop();
    await removeDir(dir);
    assert.equal(code, 0, 'stops with exit 0');
  });

  test('serves HTTPS with the configured certificate; keep-alive reuses the connection', async () => {
    const agent = new https.Agent({ keepAlive: true, ca });
    try {
      const first = await httpsGet(srv.port, '/v2/', undefined, agent);
      assert.equal(first.status, 200);
      assert.equal(first.headers['docker-distribution-api-version'], 'registry/2.0');
      assert.match(String(first.headers['keep-alive']), /timeout=75/);
      const second = await httpsGet(srv.port, '/healthz', undefined, agent);
      assert.equal(second.status, 200);
      const sockets = Object.values(agent.freeSockets).flat().length;
      assert.equal(sockets, 1, 'both requests went over one TLS connection');
    } finally {
      agent.destroy();
    }
    assert.match(srv.output(), /"tls":true/);
  });

  test('a client that does not trust the CA is refused at the handshake', async () => {
    await assert.rejects(httpsGet(srv.port, '/v2/'), (error: NodeJS.ErrnoException) => /CERT|SIGNATURE|ISSUER/.test(String(error.code)));
    assert.equal((await httpsGet(srv.port, '/healthz', ca)).status, 200, 'still serving after the failed handshake');
  });

  test('skopeo copy and inspect over HTTPS with --cert-dir and TLS verification', async () => {
    const layout = await makeTestImages(path.join(dir, 'layout'), 2048);
    const ref = `docker://127.0.0.1:${srv.port}/tls/image:v1`;
    await clients.skopeo(['copy', '--dest-cert-dir', certs.certDir, '--dest-tls-verify=true', `oci:${layout}:amd64`, ref]);
    const inspected = await clients.skopeo(['inspect', '--raw', '--cert-dir', certs.certDir, '--tls-verify=true', ref]);
    const manifest = await httpsGet(srv.port, '/v2/tls/image/manifests/v1', ca);
    assert.equal(manifest.status, 200);
    assert.equal(sha256(inspected.stdout), sha256(manifest.body), 'skopeo read the manifest the registry holds');
    const info = JSON.parse((await clients.skopeo(['inspect', '--cert-dir', certs.certDir, '--tls-verify=true', ref])).stdout) as { Digest: string };
    assert.equal(info.Digest, sha256(manifest.body));

    const untrusted = await clients.skopeo(['inspect', '--tls-verify=true', ref], { allowFailure: true });
    assert.notEqual(untrusted.code, 0, 'without the CA skopeo refuses the certificate');
    assert.match(untrusted.stderr, /x509|certificate/i);
  });
});
