/**
 * CNCF Distribution 2.8.2 behind a small token server (Distribution's `auth: token:`), the way
 * Docker Hub, ghcr.io and quay.io authenticate: 401 + `WWW-Authenticate: Bearer realm=…` → GET
 * realm?service=&scope= (Basic credentials) → a JWT signed with a key whose self-signed
 * certificate is Distribution's `rootcertbundle`; the certificate travels in the JWT's `x5c`.
 */
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { importPKCS8, SignJWT, type CryptoKey } from 'jose';
import YAML from 'yaml';
import { DISTRIBUTION_BIN, waitForRegistry } from '../fixtures/distribution.js';
import { keepTempDirs, makeTempDir, removeDir } from '../fixtures/paths.js';
import { freePort, killOnExit } from '../fixtures/server.js';

const execFileP = promisify(execFile);
const SERVICE = 'wharf-test-registry';
const ISSUER = 'wharf-test-issuer';

export interface TokenRequest {
  scope: string | null;
  service: string | null;
  user: string | undefined;
}

export interface TokenUpstream {
  /** Distribution's URL. */
  url: string;
  host: string;
  /** Token requests seen, in order. */
  tokenRequests: TokenRequest[];
  /** A token for the test itself (e.g. to push): `repository:<repo>:pull,push`. */
  mint(repository: string, actions?: string[]): Promise<string>;
  logs(): string;
  stop(): Promise<void>;
}

/** Starts the token server and Distribution; `users` may fetch tokens (Basic), anyone else gets 401. */
export async function startTokenUpstream(users: Record<string, string>): Promise<TokenUpstream> {
  const dir = await makeTempDir('distribution-token-');
  await execFileP('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=wharf-test-token',
  ]);
  const certPem = await readFile(path.join(dir, 'cert.pem'), 'utf8');
  const x5c = [certPem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '')];
  const key: CryptoKey = await importPKCS8(await readFile(path.join(dir, 'key.pem'), 'utf8'), 'ES256');

  const mint = async (subject: string, access: Array<{ type: string; name: string; actions: string[] }>) =>
    new SignJWT({ access })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', x5c })
      .setIssuer(ISSUER)
      .setAudience(SERVICE)
      .setSubject(subject)
      .setIssuedAt()
      .setNotBefore(Math.floor(Date.now() / 1000) - 5)
      .setExpirationTime('5m')
      .setJti(randomUUID())
      .sign(key);

  const tokenRequests: TokenRequest[] = [];
  const tokenServer = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const auth = req.headers.authorization;
      let user: string | undefined;
      if (auth?.startsWith('Basic ')) {
        const [name, password] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':');
        if (name && users[name] === password) user = name;
        else {
          tokenRequests.push({ scope: url.searchParams.get('scope'), service: url.searchParams.get('service'), user: `bad:${name}` });
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"wrong credentials"}');
          return;
        }
      }
      const scope = url.searchParams.get('scope');
      tokenRequests.push({ scope, service: url.searchParams.get('service'), user });
      // Anonymous callers get no access at all; users get what they ask for.
      const access = [];
      const match = scope ? /^repository:([^:]+):(.+)$/.exec(scope) : null;
      if (user && match) access.push({ type: 'repository', name: match[1]!, actions: match[2]!.split(',') });
      const token = await mint(user ?? 'anonymous', access);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, access_token: token, expires_in: 300 }));
    })();
  });
  await new Promise<void>((resolve) => tokenServer.listen(0, '127.0.0.1', resolve));
  const tokenPort = (tokenServer.address() as AddressInfo).port;

  const port = await freePort();
  const config = {
    version: 0.1,
    log: { level: 'error', accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: path.join(dir, 'data') }, delete: { enabled: true } },
    http: { addr: `127.0.0.1:${port}`, secret: 'wharf-test-secret' },
    auth: { token: { realm: `http://127.0.0.1:${tokenPort}/token`, service: SERVICE, issuer: ISSUER, rootcertbundle: path.join(dir, 'cert.pem') } },
  };
  await writeFile(path.join(dir, 'config.yml'), YAML.stringify(config));
  const env = { ...process.env };
  delete env.AWS_CA_BUNDLE;
  const child = spawn(DISTRIBUTION_BIN, ['serve', path.join(dir, 'config.yml')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  killOnExit(child);
  let logText = '';
  child.stdout!.on('data', (b: Buffer) => (logText += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (logText += b.toString()));
  let exited = false;
  const exitP = new Promise<void>((resolve) => child.on('exit', () => ((exited = true), resolve())));

  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exitP;
      clearTimeout(timer);
    }
    await new Promise<void>((resolve) => tokenServer.close(() => resolve()));
    if (!keepTempDirs()) await removeDir(dir);
  };
  await waitForRegistry(port, { exited: () => exited, logs: () => logText, stop });
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    tokenRequests,
    mint: (repository, actions = ['pull', 'push']) => mint('test', [{ type: 'repository', name: repository, actions }]),
    logs: () => logText,
    stop,
  };
}
