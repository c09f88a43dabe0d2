import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, wharfConfigSchema } from '../../src/config/index.js';

/** Writes `text` as config.yml in a fresh temp directory and returns its path. */
function writeConfig(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'wharf-config-')), 'config.yml');
  writeFileSync(file, text);
  return file;
}

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  assert.fail('expected a ConfigError');
}

describe('loadConfig defaults', () => {
  it('gives a working embedded server with no file and no environment', () => {
    const config = loadConfig({ env: {} });
    assert.equal(config.dataDirectory, './data');
    assert.equal(config.http.port, 5000);
    assert.equal(config.http.address, '127.0.0.1');
    assert.equal(config.dataPermissions, 'private');
    assert.equal(config.storage.driver, 'filesystem');
    assert.equal(config.database.driver, 'sqlite');
    assert.equal(config.auth.mode, 'none');
    assert.deepEqual(config.mirror.upstreams, []);
    assert.deepEqual(config, wharfConfigSchema.parse({}));
  });

  it('treats an empty file and empty sections as the defaults', () => {
    assert.deepEqual(loadConfig({ file: writeConfig(''), env: {} }), loadConfig({ env: {} }));
    assert.deepEqual(loadConfig({ file: writeConfig('http:\nstorage:\n  s3:\n'), env: {} }), loadConfig({ env: {} }));
  });

  it('reads the file named by WHARF_CONFIG when no file is passed', () => {
    const file = writeConfig('http:\n  port: 6000\n');
    assert.equal(loadConfig({ env: { WHARF_CONFIG: file } }).http.port, 6000);
  });

  it('returns a deeply frozen object', () => {
    const config = loadConfig({ file: writeConfig('mirror:\n  upstreams:\n    - {name: hub, url: "https://registry-1.docker.io", registry: docker.io}\n'), env: {} });
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.http));
    assert.ok(Object.isFrozen(config.storage.filesystem));
    assert.ok(Object.isFrozen(config.mirror.upstreams));
    assert.ok(Object.isFrozen(config.mirror.upstreams[0]));
    assert.equal(Reflect.set(config.http, 'port', 1), false);
    assert.equal(config.http.port, 5000);
  });
});

describe('_env: references', () => {
  it('replaces a value from the environment and coerces it to the key type', () => {
    const file = writeConfig('http:\n  port: _env:PORT\n  trustProxy: _env:TRUST\n  address: _env:ADDR\n');
    const config = loadConfig({ file, env: { PORT: '7000', TRUST: 'true', ADDR: '127.0.0.1' } });
    assert.equal(config.http.port, 7000);
    assert.equal(config.http.trustProxy, true);
    assert.equal(config.http.address, '127.0.0.1');
  });

  it('uses the default after the second colon when the variable is unset, colons included', () => {
    const file = writeConfig('http:\n  port: _env:PORT:5050\n  publicUrl: _env:PUBLIC_URL:https://r.example.com:8443\n');
    const config = loadConfig({ file, env: {} });
    assert.equal(config.http.port, 5050);
    assert.equal(config.http.publicUrl, 'https://r.example.com:8443');
  });

  it('treats a reference that resolves to the empty string as absent', () => {
    const file = writeConfig(
      'mirror:\n  upstreams:\n    - name: hub\n      url: https://registry-1.docker.io\n      registry: docker.io\n      username: "_env:HUB_USER:"\n      password: _env:HUB_TOKEN\n',
    );
    const upstream = loadConfig({ file, env: { HUB_TOKEN: '' } }).mirror.upstreams[0];
    assert.equal(upstream !== undefined && 'username' in upstream, false);
    assert.equal(upstream?.password, undefined);
  });

  it('prefers the variable over the default', () => {
    const file = writeConfig('http:\n  port: _env:PORT:5050\n');
    assert.equal(loadConfig({ file, env: { PORT: '6060' } }).http.port, 6060);
  });

  it('resolves references inside lists', () => {
    const file = writeConfig(
      'mirror:\n  upstreams:\n    - name: hub\n      url: https://registry-1.docker.io\n      registry: docker.io\n      password: _env:HUB_TOKEN\n      ttlSeconds: _env:HUB_TTL:60\n',
    );
    const config = loadConfig({ file, env: { HUB_TOKEN: 's3cret' } });
    assert.equal(config.mirror.upstreams[0]?.password, 's3cret');
    assert.equal(config.mirror.upstreams[0]?.ttlSeconds, 60);
  });

  it('names the variable, the key path and the file when a variable is missing', () => {
    const file = writeConfig('storage:\n  driver: s3\n  s3:\n    bucket: _env:S3_BUCKET\n    secretKey: _env:S3_SECRET\n');
    const error = configError(() => loadConfig({ file, env: {} }));
    assert.deepEqual(error.problems, [
      `${file}: storage.s3.bucket: environment variable S3_BUCKET is not set (the value "_env:S3_BUCKET" has no default)`,
      `${file}: storage.s3.secretKey: environment variable S3_SECRET is not set (the value "_env:S3_SECRET" has no default)`,
    ]);
    assert.equal(error.message, error.problems.join('\n'));
  });

  it('rejects a malformed reference', () => {
    const file = writeConfig('dataDirectory: "_env:1BAD"\n');
    const error = configError(() => loadConfig({ file, env: {} }));
    assert.match(error.message, /dataDirectory: malformed environment reference "_env:1BAD"/);
  });

  it('reports a wrong type from a substituted value against the file', () => {
    const file = writeConfig('http:\n  port: _env:PORT\n');
    const error = configError(() => loadConfig({ file, env: { PORT: 'abc' } }));
    assert.deepEqual(error.problems, [`${file}: http.port: expected an integer from 0 to 65535, got "abc"`]);
  });
});

describe('WHARF_* environment overrides', () => {
  it('maps nested keys case-insensitively and coerces numbers and booleans', () => {
    const config = loadConfig({
      env: {
        WHARF_HTTP_PORT: '8080',
        WHARF_HTTP_TRUSTPROXY: 'yes',
        WHARF_STORAGE_DRIVER: 's3',
        WHARF_STORAGE_S3_BUCKET: 'blobs',
        WHARF_STORAGE_S3_PARTSIZE: '10485760',
        WHARF_STORAGE_S3_FORCE_PATH_STYLE: 'true',
        WHARF_LOG_LEVEL: 'debug',
        WHARF_DATA_DIRECTORY: '/var/lib/wharf',
      },
    });
    assert.equal(config.http.port, 8080);
    assert.equal(config.http.trustProxy, true);
    assert.equal(config.storage.driver, 's3');
    assert.equal(config.storage.s3?.bucket, 'blobs');
    assert.equal(config.storage.s3?.partSize, 10485760);
    assert.equal(config.storage.s3?.forcePathStyle, true);
    assert.equal(config.log.level, 'debug');
    assert.equal(config.dataDirectory, '/var/lib/wharf');
  });

  it('accepts a multi-word key with or without underscores inside', () => {
    const url = 'https://registry.example.com';
    assert.equal(loadConfig({ env: { WHARF_HTTP_PUBLICURL: url } }).http.publicUrl, url);
    assert.equal(loadConfig({ env: { WHARF_HTTP_PUBLIC_URL: url } }).http.publicUrl, url);
    assert.equal(loadConfig({ env: { WHARF_AUTH_LOGIN_RATE_LIMIT_MAX_FAILURES: '3' } }).auth.loginRateLimit.maxFailures, 3);
    assert.equal(loadConfig({ env: { wharf_http_port: '81' } }).http.port, 81);
  });

  it('ignores reserved and unknown WHARF_ variables, reporting unknown ones as warnings', () => {
    const warnings: string[] = [];
    const config = loadConfig({
      env: {
        WHARF_ADMIN_USER: 'admin',
        WHARF_ADMIN_PASSWORD: 'pw',
        WHARF_NOT_A_KEY: '1',
        WHARF_HTTP: 'x',
        WHARF_: '',
        WHARF_HTTP_PORT_EXTRA: '1',
      },
      onWarning: (message) => warnings.push(message),
    });
    assert.deepEqual(config, loadConfig({ env: {} }));
    assert.deepEqual(warnings, [
      'environment: WHARF_ matches no config key; ignored',
      'environment: WHARF_HTTP matches no config key; ignored',
      'environment: WHARF_HTTP_PORT_EXTRA matches no config key; ignored',
      'environment: WHARF_NOT_A_KEY matches no config key; ignored',
    ]);
  });

  it('accepts a list as JSON', () => {
    const upstreams = [{ name: 'hub', url: 'https://registry-1.docker.io', registry: 'docker.io', default: true }];
    const config = loadConfig({ env: { WHARF_MIRROR_UPSTREAMS: JSON.stringify(upstreams) } });
    assert.equal(config.mirror.upstreams[0]?.name, 'hub');
    assert.equal(config.mirror.upstreams[0]?.default, true);
  });

  it('names the variable when its value is invalid', () => {
    const error = configError(() => loadConfig({ env: { WHARF_HTTP_PORT: 'abc', WHARF_HTTP_WORKERS: '0' } }));
    assert.deepEqual(error.problems, [
      'environment (WHARF_HTTP_PORT): http.port: expected an integer from 0 to 65535, got "abc"',
      'environment (WHARF_HTTP_WORKERS): http.workers: expected an integer from 1 to 64, got 0',
    ]);
  });
});

describe('precedence', () => {
  const file = (): string => writeConfig('http:\n  port: 1001\n  address: 10.0.0.1\n  workers: 2\n  keepAliveTimeoutMs: 5\n');

  it('file beats defaults', () => {
    const config = loadConfig({ file: file(), env: {} });
    assert.equal(config.http.port, 1001);
    assert.equal(config.http.headersTimeoutMs, 60000);
  });

  it('environment beats file', () => {
    const config = loadConfig({ file: file(), env: { WHARF_HTTP_PORT: '1002', WHARF_HTTP_WORKERS: '3' } });
    assert.equal(config.http.port, 1002);
    assert.equal(config.http.workers, 3);
    assert.equal(config.http.address, '10.0.0.1');
  });

  it('flags beat environment, file and defaults', () => {
    const config = loadConfig({
      file: file(),
      env: { WHARF_HTTP_PORT: '1002', WHARF_HTTP_WORKERS: '3' },
      overrides: { http: { port: 1003 } },
    });
    assert.equal(config.http.port, 1003);
    assert.equal(config.http.workers, 3);
    assert.equal(config.http.address, '10.0.0.1');
    assert.equal(config.http.keepAliveTimeoutMs, 5);
    assert.equal(config.http.shutdownGraceMs, 30000);
  });

  it('coerces string flag values and skips undefined ones', () => {
    const overrides = JSON.parse('{"http":{"port":"1004","trustProxy":"true"}}') as Record<string, unknown>;
    const config = loadConfig({ env: {}, overrides: { ...overrides, log: { level: undefined } } });
    assert.equal(config.http.port, 1004);
    assert.equal(config.http.trustProxy, true);
    assert.equal(config.log.level, 'info');
  });

  it('names flags as the source of an invalid flag value', () => {
    const error = configError(() => loadConfig({ env: {}, overrides: { http: { port: 70000 } } }));
    assert.deepEqual(error.problems, ['flags: http.port: expected an integer from 0 to 65535, got 70000']);
  });
});
