/**
 * Configuration errors never print a secret: a wrong value under a key marked secret (or the
 * password in a URL marked secret) is described, not echoed, by `wharf config check` and by the
 * start-up error of `wharf serve` — whether it came from the file or the environment.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runWharf } from '../fixtures/cli.js';
import { makeTempDir, removeDir } from '../fixtures/paths.js';

const SECRETS = ['DefaultSecret9', 'PgFilePw41', '90817263541', 'ListedSecret77', 'MappedSecret55', 'S3SecretNum', 'ParentUrlPw3', 'EnvUrlPw28'];

const config = `
database:
  driver: postgres
  postgres:
    url: "mysql://wharf:PgFilePw41@db.example.com/wharf"
mirror:
  upstreams:
    - name: hub
      url: https://registry-1.docker.io
      registry: docker.io
      password: 90817263541
    - name: quay
      url: https://quay.io
      registry: quay.io
      password: [ListedSecret77]
    - name: ghcr
      url: https://ghcr.io
      registry: ghcr.io
      password: { token: MappedSecret55 }
    - name: four
      url: https://four.example.com
      registry: four.example.com
      password: "_env:bad name:DefaultSecret9"
storage:
  driver: s3
  s3:
    bucket: blobs
    secretKey: 1234
`;

/** `bin/wharf <args>` with only PATH (and `env`) in its environment: no stray WHARF_* variable. */
const wharf = (args: string[], env: NodeJS.ProcessEnv = {}) => runWharf(args, { env: { PATH: process.env.PATH, ...env } });

function assertMasked(output: string, what: string): void {
  for (const secret of SECRETS) assert.ok(!output.includes(secret), `${what} prints ${secret}:\n${output}`);
}

describe('configuration errors print no secret', () => {
  let dir: string;
  let file: string;
  let fixed: string;
  before(async () => {
    dir = await makeTempDir('wharf-config-secrets-');
    file = path.join(dir, 'config.yml');
    await writeFile(file, config);
    fixed = path.join(dir, 'resolved.yml');
    await writeFile(fixed, config.replace('_env:bad name:DefaultSecret9', 'fine-now'));
  });
  after(() => removeDir(dir));

  test('wharf config check names every wrong secret key without its value', async () => {
    const run = await wharf(['config', 'check', file]);
    assert.equal(run.code, 2, run.stderr);
    assertMasked(run.stdout + run.stderr, 'config check');
    assert.match(run.stderr, /mirror\.upstreams\[3\]\.password: malformed environment reference "_env:bad name:…"/);
    // Every other problem shows once the references resolve: the file with that one fixed.
    const second = await wharf(['config', 'check', fixed]);
    assert.equal(second.code, 2, second.stderr);
    assertMasked(second.stdout + second.stderr, 'config check, second pass');
    for (const key of ['database.postgres.url', 'mirror.upstreams[0].password', 'mirror.upstreams[1].password', 'mirror.upstreams[2].password', 'storage.s3.secretKey']) {
      assert.match(second.stderr, new RegExp(`${key.replace(/[[\].]/g, '\\$&')}: `), `${key} is named`);
    }
    // The URL stays recognisable, its password masked the way the effective config shows it.
    assert.match(second.stderr, /mysql:\/\/wharf:\*\*\*\*@db\.example\.com\/wharf/);
  });

  test('a secret URL set through the environment, and one inside a value of the wrong shape, are masked too', async () => {
    const shaped = path.join(dir, 'shaped.yml');
    await writeFile(shaped, 'database:\n  driver: postgres\n  postgres: "postgres://wharf:ParentUrlPw3@db/wharf"\n');
    const run = await wharf(['config', 'check', shaped]);
    assert.equal(run.code, 2, run.stderr);
    assertMasked(run.stderr, 'wrong shape');
    assert.match(run.stderr, /database\.postgres: /);

    const env = await wharf(['config', 'check'], { WHARF_DATABASE_DRIVER: 'postgres', WHARF_DATABASE_POSTGRES_URL: 'http://wharf:EnvUrlPw28@db/wharf' });
    assert.equal(env.code, 2, env.stderr);
    assertMasked(env.stderr, 'environment');
    assert.match(env.stderr, /WHARF_DATABASE_POSTGRES_URL/);
  });

  test('wharf serve stops on the same file without printing a secret', async () => {
    const run = await wharf(['serve', '--config', fixed, '--port', '0', '--address', '127.0.0.1', '--data', path.join(dir, 'data')]);
    assert.equal(run.code, 2, run.stderr);
    assertMasked(run.stdout + run.stderr, 'serve');
    assert.match(run.stderr, /database\.postgres\.url: /);
  });
});
