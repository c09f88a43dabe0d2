/**
 * What `serve` says at start: a loud warning when no authentication meets a network address, the
 * "this machine only" hint on a loopback address; and the mirror's spool files are private.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { isLoopback, reachHint, warnAtStart } from '../../src/cli/start-notices.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/lib/logger.js';
import { groupModes } from '../../src/lib/file-modes.js';
import { InflightBlob } from '../../src/mirror/inflight-blob.js';
import { parseDigest } from '../../src/oci/digest.js';

/** Runs `warnAtStart` for a config, collecting its log lines and what it wrote to stderr. */
async function startNotices(overrides: Record<string, unknown>): Promise<{ lines: Array<Record<string, unknown>>; stderr: string }> {
  const dataDirectory = await mkdtemp(path.join(tmpdir(), 'wharf-notices-'));
  const config = loadConfig({ env: {}, overrides: { dataDirectory, ...overrides } });
  let logged = '';
  const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => ((logged += chunk.toString()), done()) });
  let stderr = '';
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((text: string) => ((stderr += text), true)) as typeof process.stderr.write;
  try {
    await warnAtStart(config, createLogger('info', sink), 5000);
  } finally {
    process.stderr.write = write;
    await rm(dataDirectory, { recursive: true, force: true });
  }
  return { lines: logged.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>), stderr };
}

describe('start notices', () => {
  it('isLoopback: 127.0.0.0/8, ::1 and localhost only', () => {
    for (const address of ['127.0.0.1', '127.3.4.5', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST']) assert.ok(isLoopback(address), address);
    for (const address of ['0.0.0.0', '::', '10.0.0.5', '192.168.1.2', 'fe80::1', 'registry.example.com', '128.0.0.1']) assert.ok(!isLoopback(address), address);
  });

  it('the default config listens on 127.0.0.1 and says how to open it up', () => {
    const config = loadConfig({ env: {} });
    assert.equal(config.http.address, '127.0.0.1');
    assert.match(reachHint(config) ?? '', /http\.address: 0\.0\.0\.0 and auth\.mode: token/);
    assert.equal(reachHint(loadConfig({ env: {}, overrides: { http: { address: '0.0.0.0' } } })), undefined);
  });

  it('no authentication on a network address: a warn line and plain words on stderr', async () => {
    const { lines, stderr } = await startNotices({ http: { address: '0.0.0.0' } });
    assert.deepEqual(
      lines.map((l) => [l.level, l.msg, l.address, l.port, l.authMode]),
      [['warn', 'serving without authentication on a network address', '0.0.0.0', 5000, 'none']],
    );
    assert.match(stderr, /WARNING: auth\.mode is none and Wharf listens on 0\.0\.0\.0:5000: anyone who can reach it can push, pull and delete images/);
  });

  it('quiet on loopback, and with authentication on any address', async () => {
    for (const overrides of [{}, { http: { address: '::1' } }, { http: { address: '0.0.0.0' }, auth: { mode: 'token' } }, { http: { address: '0.0.0.0' }, auth: { mode: 'basic' } }]) {
      assert.deepEqual(await startNotices(overrides), { lines: [], stderr: '' }, JSON.stringify(overrides));
    }
  });

  it('mirror spool files get the configured mode', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'wharf-spool-'));
    try {
      const bytes = Buffer.from('spooled');
      const digest = parseDigest(`sha256:${createHash('sha256').update(bytes).digest('hex')}`);
      for (const [name, modes, expected] of [['private', undefined, 0o600], ['group', groupModes, 0o640]] as const) {
        const spoolPath = path.join(dir, name);
        const blob = await InflightBlob.start({ digest, size: bytes.length, spoolPath, source: Readable.from([bytes]), ...(modes ? { modes } : {}) });
        assert.equal((await stat(spoolPath)).mode & 0o777, expected, name);
        assert.deepEqual(await blob.settled, { ok: true });
        await blob.release();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
