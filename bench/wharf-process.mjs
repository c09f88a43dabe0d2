// wharf-process.mjs: starts `bin/wharf serve` for a benchmark (node with bin/wharf's flags) on a
// free 127.0.0.1 port, with the given extra config YAML, and waits until /v2/ answers.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export const freePort = () =>
  new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

/** Node flags from bin/wharf's shebang (the GC flags a production start uses). */
export const wharfNodeFlags = () => readFileSync(join(ROOT, 'bin/wharf'), 'utf8').split('\n')[0].split(/\s+/).filter((w) => w.startsWith('--'));

/**
 * Starts Wharf with `dataDirectory: <work>/data` and `extraYaml` appended to the config.
 * Returns { url, port, pid, process, stdout(), stop() }; `nodeArgs` go before bin/wharf.
 */
export async function startWharf({ work, extraYaml = '', nodeArgs = [], env = {}, port }) {
  mkdirSync(work, { recursive: true });
  port ??= await freePort();
  const configPath = join(work, 'config.yml');
  writeFileSync(configPath, `dataDirectory: ${work}/data\nhttp:\n  address: 127.0.0.1\n  port: ${port}\nlog:\n  level: warn\n${extraYaml}\n`);
  const child = spawn(process.execPath, [...wharfNodeFlags(), ...nodeArgs, join(ROOT, 'bin/wharf'), 'serve', '--config', configPath], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const up = await new Promise((resolve) => {
      http.get(`${url}/v2/`, (res) => { res.resume(); resolve(true); }).on('error', () => resolve(false));
    });
    if (up) break;
    if (i > 600 || child.exitCode !== null) throw new Error(`wharf did not start on ${url}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    port,
    pid: child.pid,
    process: child,
    stdout: () => stdout,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
