import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { parse } from 'yaml';
import { exitCodes, registerConfigCommands, type ConfigCommandIo } from '../../src/cli/config-commands.js';
import { defaultConfigYaml, loadConfig, maskSecrets, secretKeyPaths } from '../../src/config/index.js';

function writeConfig(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'wharf-config-')), 'config.yml');
  writeFileSync(file, text);
  return file;
}

const secretConfig = [
  'storage:',
  '  driver: s3',
  '  s3:',
  '    bucket: blobs',
  '    accessKey: AKIAEXAMPLE',
  '    secretKey: s3-secret',
  '  oss:',
  '    region: r',
  '    bucket: b',
  '    accessKeyId: id',
  '    accessKeySecret: oss-secret',
  'database:',
  '  driver: postgres',
  '  postgres:',
  '    url: postgres://wharf:pg-secret@db:5432/wharf',
  'mirror:',
  '  upstreams:',
  '    - name: hub',
  '      url: https://registry-1.docker.io',
  '      registry: docker.io',
  '      username: bot',
  '      password: hub-secret',
  '',
].join('\n');

describe('maskSecrets', () => {
  it('lists the secret key paths', () => {
    assert.deepEqual(secretKeyPaths, [
      'storage.s3.secretKey',
      'storage.oss.accessKeySecret',
      'database.postgres.url',
      'mirror.upstreams[].password',
      'webhooks.encryptionKey',
      'replication.encryptionKey',
    ]);
  });

  it('replaces every secret and leaves the rest and the original alone', () => {
    const config = loadConfig({ file: writeConfig(secretConfig), env: {} });
    const masked = maskSecrets(config);
    assert.equal(masked.storage.s3?.secretKey, '****');
    assert.equal(masked.storage.s3?.accessKey, 'AKIAEXAMPLE');
    assert.equal(masked.storage.oss?.accessKeySecret, '****');
    assert.equal(masked.database.postgres?.url, 'postgres://wharf:****@db:5432/wharf');
    assert.equal(masked.mirror.upstreams[0]?.password, '****');
    assert.equal(masked.mirror.upstreams[0]?.username, 'bot');
    assert.equal(config.storage.s3?.secretKey, 's3-secret');
    assert.ok(Object.isFrozen(masked.storage));
    const text = JSON.stringify(masked);
    for (const secret of ['s3-secret', 'oss-secret', 'pg-secret', 'hub-secret']) assert.equal(text.includes(secret), false);
  });
});

describe('defaultConfigYaml', () => {
  it('loads back to exactly the defaults', () => {
    const file = writeConfig(defaultConfigYaml());
    assert.deepEqual(loadConfig({ file, env: {} }), loadConfig({ env: {} }));
  });

  it('is commented and shows optional sections commented out', () => {
    const text = defaultConfigYaml();
    assert.match(text, /^ {2}# TCP port to listen on/m);
    assert.match(text, /^ {2}port: 5000$/m);
    assert.match(text, /^ {2}# s3:$/m);
    assert.match(text, /^ {2}# {3}bucket: wharf-blobs$/m);
  });
});

interface Captured {
  readonly io: ConfigCommandIo;
  readonly out: string[];
  readonly err: string[];
  exitCode(): number | undefined;
}

function capture(env: NodeJS.ProcessEnv = {}): Captured {
  const out: string[] = [];
  const err: string[] = [];
  let code: number | undefined;
  return {
    io: { stdout: (text) => out.push(text), stderr: (text) => err.push(text), env, setExitCode: (value) => (code = value) },
    out,
    err,
    exitCode: () => code,
  };
}

async function run(args: string[], captured: Captured): Promise<void> {
  const program = new Command('wharf').exitOverride();
  registerConfigCommands(program, captured.io);
  await program.parseAsync(args, { from: 'user' });
}

describe('config commands', () => {
  it('documents the exit codes', () => {
    assert.deepEqual(exitCodes, { ok: 0, runtimeFailure: 1, configError: 2, adminConflict: 3 });
    const operations = readFileSync(new URL('../../../docs/operations.md', import.meta.url), 'utf8');
    for (const code of Object.values(exitCodes)) assert.match(operations, new RegExp(`^\\| ${code} \\|`, 'm'), `docs/operations.md explains exit code ${code}`);
  });

  it('config check prints the effective config with secrets masked and exits 0', async () => {
    const captured = capture({ WHARF_HTTP_PORT: '5555' });
    await run(['config', 'check', writeConfig(secretConfig)], captured);
    assert.equal(captured.exitCode(), exitCodes.ok);
    assert.deepEqual(captured.err, []);
    const printed: unknown = parse(captured.out.join(''));
    const expected = maskSecrets(loadConfig({ file: writeConfig(secretConfig), env: { WHARF_HTTP_PORT: '5555' } }));
    assert.deepEqual(printed, JSON.parse(JSON.stringify(expected)));
    assert.equal(captured.out.join('').includes('hub-secret'), false);
  });

  it('config check without a file checks the defaults and environment', async () => {
    const captured = capture({ WHARF_LOG_LEVEL: 'warn', WHARF_BOGUS: '1' });
    await run(['config', 'check'], captured);
    assert.equal(captured.exitCode(), exitCodes.ok);
    assert.match(captured.out.join(''), /level: warn/);
    assert.deepEqual(captured.err, ['warning: environment: WHARF_BOGUS matches no config key; ignored\n']);
  });

  it('config check prints every problem to stderr and exits 2', async () => {
    const file = writeConfig('http:\n  prot: 1\n  workers: 0\n');
    const captured = capture();
    await run(['config', 'check', file], captured);
    assert.equal(captured.exitCode(), exitCodes.configError);
    assert.deepEqual(captured.out, []);
    assert.equal(
      captured.err.join(''),
      `configuration invalid:\n  ${file}: http.workers: expected an integer from 1 to 64, got 0\n  ${file}: http.prot: unknown key (did you mean "port"?)\n`,
    );
  });

  it('config print-default prints the commented defaults', async () => {
    const captured = capture();
    await run(['config', 'print-default'], captured);
    assert.equal(captured.exitCode(), exitCodes.ok);
    assert.equal(captured.out.join(''), defaultConfigYaml());
  });
});

describe('docs/configuration.md', () => {
  it('every YAML example loads, into a config a worker thread can be given (the GC worker is)', async () => {
    const text = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    const examples = [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');
    assert.ok(examples.length >= 6);
    const env = {
      DATABASE_URL: 'postgres://wharf:pw@db/wharf',
      S3_ACCESS_KEY: 'a',
      S3_SECRET_KEY: 's',
      OSS_BUCKET: 'b',
      OSS_KEY: 'k',
      OSS_SECRET: 's',
    };
    for (const example of examples) {
      let config: unknown;
      assert.doesNotThrow(() => (config = loadConfig({ file: writeConfig(example), env })), example);
      assert.deepEqual(structuredClone(config), config, example);
    }
  });
});
