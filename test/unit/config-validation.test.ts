import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/index.js';

function writeConfig(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'wharf-config-')), 'config.yml');
  writeFileSync(file, text);
  return file;
}

/** The problem lines of loading `text`, with the temp file path shortened to `config.yml`. */
function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  const file = writeConfig(text);
  try {
    loadConfig({ file, env });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((line) => line.replaceAll(file, 'config.yml'));
    throw error;
  }
  return assert.fail('expected a ConfigError');
}

describe('validation messages', () => {
  it('names file, key path, expectation and the value for a wrong type', () => {
    assert.deepEqual(problemsOf('http:\n  port: abc\n'), ['config.yml: http.port: expected an integer from 0 to 65535, got "abc"']);
    assert.deepEqual(problemsOf('http:\n  port: 1.5\n'), ['config.yml: http.port: expected an integer from 0 to 65535, got 1.5']);
    assert.deepEqual(problemsOf('http:\n  trustProxy: maybe\n'), ['config.yml: http.trustProxy: expected true or false, got "maybe"']);
    assert.deepEqual(problemsOf('log:\n  level: loud\n'), [
      'config.yml: log.level: expected one of "fatal", "error", "warn", "info", "debug", "trace", "silent", got "loud"',
    ]);
    assert.deepEqual(problemsOf('http: 5000\n'), ['config.yml: http: expected a mapping of keys to values, got 5000']);
    assert.deepEqual(problemsOf('mirror:\n  upstreams: {}\n'), ['config.yml: mirror.upstreams: expected a list, got a mapping']);
  });

  it('describes bounds: minimum only, range, formats', () => {
    assert.deepEqual(problemsOf('storage:\n  driver: s3\n  s3:\n    bucket: b\n    partSize: 1024\n'), [
      'config.yml: storage.s3.partSize: expected an integer of at least 5242880, got 1024',
    ]);
    assert.deepEqual(problemsOf('http:\n  workers: 65\n'), ['config.yml: http.workers: expected an integer from 1 to 64, got 65']);
    assert.deepEqual(problemsOf('gc:\n  dutyCycle: 0\n'), ['config.yml: gc.dutyCycle: expected a number from 0.05 to 1, got 0']);
    assert.deepEqual(problemsOf('gc:\n  dutyCycle: half\n'), ['config.yml: gc.dutyCycle: expected a number from 0.05 to 1, got "half"']);
    assert.deepEqual(problemsOf('http:\n  publicUrl: https://r.example.com/\n'), [
      'config.yml: http.publicUrl: expected an http(s) URL without a trailing slash, got "https://r.example.com/"',
    ]);
    assert.deepEqual(problemsOf('http:\n  publicUrl: ftp://r.example.com\n'), [
      'config.yml: http.publicUrl: expected an http(s) URL without a trailing slash, got "ftp://r.example.com"',
    ]);
    assert.deepEqual(problemsOf('http:\n  address: 127.0.0.1:5000\n'), [
      'config.yml: http.address: expected an IP address or host name without a port (the port is http.port), got "127.0.0.1:5000"',
    ]);
    assert.deepEqual(problemsOf('http:\n  address: "[::1]:5000"\n'), [
      'config.yml: http.address: expected an IP address or host name without a port (the port is http.port), got "[::1]:5000"',
    ]);
    assert.equal(loadConfig({ file: writeConfig('http:\n  address: "::1"\n'), env: {} }).http.address, '::1', 'an IPv6 address is not a port');
    assert.equal(loadConfig({ file: writeConfig('http:\n  address: registry.internal\n'), env: {} }).http.address, 'registry.internal');
    assert.deepEqual(problemsOf('database:\n  driver: postgres\n  postgres:\n    url: mysql://x\n'), [
      'config.yml: database.postgres.url: expected a postgres:// or postgresql:// URL, got "mysql://x"',
    ]);
  });

  it('lists every problem, one per line', () => {
    const problems = problemsOf('http:\n  port: -1\n  workers: 0\nlog:\n  accessLog: 1\n');
    assert.deepEqual(problems, [
      'config.yml: http.port: expected an integer from 0 to 65535, got -1',
      'config.yml: http.workers: expected an integer from 1 to 64, got 0',
      'config.yml: log.accessLog: expected true or false, got 1',
    ]);
  });

  it('reports a missing required key inside a present section', () => {
    assert.deepEqual(problemsOf('http:\n  tls:\n    certificate: /etc/cert.pem\n'), [
      'config.yml: http.tls.key: required key missing, expected a non-empty file path',
    ]);
  });

  it('rejects a root that is not a mapping', () => {
    assert.deepEqual(problemsOf('- a\n- b\n'), ['config.yml: (root): expected a mapping of keys to values, got a list']);
  });

  it('names the file and line of a YAML syntax error', () => {
    const problems = problemsOf('http:\n  port: 5000\n  address: [unclosed\nlog:\n  level: info\n');
    assert.equal(problems.length >= 1, true);
    assert.match(problems[0] ?? '', /^config\.yml: line \d+, column \d+: invalid YAML: /);
    assert.deepEqual(problemsOf('http:\n  port: 1\n  port: 2\n').map((line) => line.replace(/: invalid YAML: .*/, '')), [
      'config.yml: line 3, column 3',
    ]);
  });

  it('names the file when it cannot be read', () => {
    const missing = join(mkdtempSync(join(tmpdir(), 'wharf-config-')), 'absent.yml');
    assert.throws(() => loadConfig({ file: missing, env: {} }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, new RegExp(`^${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot read the config file: ENOENT`));
      return true;
    });
  });
});

describe('unknown keys', () => {
  it('suggests the closest sibling key', () => {
    assert.deepEqual(problemsOf('http:\n  prot: 5000\n'), ['config.yml: http.prot: unknown key (did you mean "port"?)']);
    assert.deepEqual(problemsOf('http:\n  public_url: https://x.example\n'), [
      'config.yml: http.public_url: unknown key (did you mean "publicUrl"?)',
    ]);
    assert.deepEqual(problemsOf('storage:\n  drivr: s3\n'), ['config.yml: storage.drivr: unknown key (did you mean "driver"?)']);
    assert.deepEqual(problemsOf('stroage: {}\n'), ['config.yml: stroage: unknown key (did you mean "storage"?)']);
  });

  it('gives no suggestion when nothing is close', () => {
    assert.deepEqual(problemsOf('http:\n  colour: blue\n'), ['config.yml: http.colour: unknown key']);
  });

  it('reports unknown keys inside list elements', () => {
    assert.deepEqual(
      problemsOf('mirror:\n  upstreams:\n    - name: hub\n      url: https://registry-1.docker.io\n      registry: docker.io\n      ttl: 5\n'),
      ['config.yml: mirror.upstreams[0].ttl: unknown key (did you mean "ttlSeconds"?)'],
    );
  });

  it('reports an unknown key and an unrelated problem in the same section together', () => {
    assert.deepEqual(problemsOf('storage:\n  driver: s3\n  bucket: x\n'), [
      'config.yml: storage.bucket: unknown key',
      'config.yml: storage.s3.bucket: required when storage.driver is "s3" (expected a non-empty string)',
    ]);
  });
});

describe('driver sections', () => {
  it('requires storage.s3.bucket when the driver is s3', () => {
    assert.deepEqual(problemsOf('storage:\n  driver: s3\n'), [
      'config.yml: storage.s3.bucket: required when storage.driver is "s3" (expected a non-empty string)',
    ]);
    assert.deepEqual(problemsOf('storage:\n  driver: s3\n  s3:\n    region: eu-west-1\n'), [
      'config.yml: storage.s3.bucket: required key missing, expected a non-empty string',
    ]);
  });

  it('names environment when the driver came from there', () => {
    assert.deepEqual(problemsOf('log:\n  level: info\n', { WHARF_STORAGE_DRIVER: 's3' }), [
      'environment (WHARF_STORAGE_DRIVER): storage.s3.bucket: required when storage.driver is "s3" (expected a non-empty string)',
    ]);
  });

  it('requires every required oss key when the driver is oss', () => {
    assert.deepEqual(problemsOf('storage:\n  driver: oss\n'), [
      'config.yml: storage.oss.region: required when storage.driver is "oss" (expected a non-empty string)',
      'config.yml: storage.oss.bucket: required when storage.driver is "oss" (expected a non-empty string)',
      'config.yml: storage.oss.accessKeyId: required when storage.driver is "oss" (expected a non-empty string)',
      'config.yml: storage.oss.accessKeySecret: required when storage.driver is "oss" (expected a non-empty string)',
    ]);
  });

  it('requires database.postgres.url when the driver is postgres', () => {
    assert.deepEqual(problemsOf('database:\n  driver: postgres\n'), [
      'config.yml: database.postgres.url: required when database.driver is "postgres" (expected a postgres:// or postgresql:// URL)',
    ]);
  });

  it('does not require a section for a driver that is not selected', () => {
    const config = loadConfig({ file: writeConfig('storage:\n  driver: memory\ndatabase:\n  driver: sqlite\n'), env: {} });
    assert.equal(config.storage.driver, 'memory');
    assert.equal(config.storage.s3, undefined);
  });

  it('fills s3 defaults', () => {
    const config = loadConfig({ file: writeConfig('storage:\n  driver: s3\n  s3:\n    bucket: blobs\n'), env: {} });
    assert.deepEqual(config.storage.s3, {
      bucket: 'blobs',
      region: 'us-east-1',
      forcePathStyle: false,
      rootDirectory: '',
      partSize: 16 * 1024 * 1024,
      multipartConcurrency: 4,
      redirect: false,
      encrypt: false,
    });
  });
});

describe('OSS aliases of the old docker-registry driver', () => {
  const oldConfig = [
    'storage:',
    '  driver: oss',
    '  oss:',
    '    region: oss-cn-hangzhou',
    '    oss_bucket: _env:OSS_BUCKET',
    '    oss_accessid: _env:OSS_KEY',
    '    oss_accesskey: _env:OSS_SECRET',
    '    internal: _env:OSS_INTERNAL:false',
    '',
  ].join('\n');

  it('maps oss_bucket, oss_accessid and oss_accesskey with _env: values', () => {
    const config = loadConfig({
      file: writeConfig(oldConfig),
      env: { OSS_BUCKET: 'images', OSS_KEY: 'LTAIkey', OSS_SECRET: 'topsecret', OSS_INTERNAL: 'true' },
    });
    assert.deepEqual(config.storage.oss, {
      region: 'oss-cn-hangzhou',
      bucket: 'images',
      accessKeyId: 'LTAIkey',
      accessKeySecret: 'topsecret',
      internal: true,
      rootDirectory: '',
      partSize: 16 * 1024 * 1024,
      redirect: false,
      encrypt: false,
    });
  });

  it('names the missing variable of an alias key', () => {
    const problems = problemsOf(oldConfig, { OSS_BUCKET: 'images', OSS_KEY: 'LTAIkey' });
    assert.deepEqual(problems, [
      'config.yml: storage.oss.oss_accesskey: environment variable OSS_SECRET is not set (the value "_env:OSS_SECRET" has no default)',
    ]);
  });

  it('rejects an alias together with its camelCase key', () => {
    const problems = problemsOf(
      'storage:\n  driver: oss\n  oss:\n    region: r\n    bucket: a\n    oss_bucket: b\n    accessKeyId: k\n    accessKeySecret: s\n',
    );
    assert.deepEqual(problems, ['config.yml: storage.oss.oss_bucket: "oss_bucket" is an alias of "bucket"; set only one of them']);
  });
});

describe('mirror upstreams', () => {
  const upstream = (name: string, isDefault: boolean): string =>
    `    - name: ${name}\n      url: https://${name}.example.com\n      registry: ${name}.example.com\n      default: ${isDefault}\n`;

  it('accepts upstreams and fills their defaults', () => {
    const config = loadConfig({ file: writeConfig(`mirror:\n  upstreams:\n${upstream('hub', true)}${upstream('ghcr', false)}`), env: {} });
    assert.equal(config.mirror.upstreams.length, 2);
    assert.equal(config.mirror.upstreams[1]?.ttlSeconds, 300);
  });

  it('allows at most one default upstream', () => {
    assert.deepEqual(problemsOf(`mirror:\n  upstreams:\n${upstream('a', true)}${upstream('b', false)}${upstream('c', true)}`), [
      'config.yml: mirror.upstreams[2].default: at most one upstream may be the default (mirror.upstreams[0] already is)',
    ]);
  });

  it('requires unique names', () => {
    assert.deepEqual(problemsOf(`mirror:\n  upstreams:\n${upstream('a', false)}${upstream('a', false)}`), [
      'config.yml: mirror.upstreams[1].name: duplicate upstream name "a" (also mirror.upstreams[0].name); names must be unique',
    ]);
  });

  it('checks the name grammar and the url', () => {
    const problems = problemsOf('mirror:\n  upstreams:\n    - name: Docker Hub\n      url: docker.io\n      registry: docker.io\n');
    assert.deepEqual(problems, [
      'config.yml: mirror.upstreams[0].name: expected a project name: lower-case letters, digits and "." "_" "-" separators, got "Docker Hub"',
      'config.yml: mirror.upstreams[0].url: expected an http(s) URL, got "docker.io"',
    ]);
  });
});
