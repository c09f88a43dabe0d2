import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { openForCli } from '../app.js';
import { ConfigError, loadConfig, type ConfigOverrides, type WharfConfig } from '../config/index.js';
import { exitCodes } from './config-commands.js';

export interface DatabaseFlags {
  config?: string;
  data?: string;
}

/** Adds the flags that locate the database the same way `serve` does. */
export function withDatabaseFlags(command: Command): Command {
  return command
    .option('-c, --config <file>', 'YAML config file (default: $WHARF_CONFIG, else built-in defaults)')
    .option('-d, --data <dir>', 'data directory for the embedded defaults (dataDirectory)');
}

export type Services = Awaited<ReturnType<typeof openForCli>>;

/** Loads the config like `serve`; a config error is printed, sets exit code 2 and gives undefined. */
export function loadCliConfig(flags: DatabaseFlags): WharfConfig | undefined {
  const overrides: ConfigOverrides = {};
  if (flags.data !== undefined) overrides.dataDirectory = flags.data;
  try {
    return loadConfig({ file: flags.config, overrides, onWarning: (message) => process.stderr.write(`warning: ${message}\n`) });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exitCode = exitCodes.configError;
    return undefined;
  }
}

/**
 * Loads the config like `serve`, opens the database, runs `work`, closes. Domain errors print
 * their message and exit 1; config errors exit 2.
 */
export async function runWithDatabase(flags: DatabaseFlags, work: (services: Services, config: WharfConfig) => Promise<void>): Promise<void> {
  const config = loadCliConfig(flags);
  if (!config) return;
  let services: Services | undefined;
  try {
    services = await openForCli(config);
    await work(services, config);
  } catch (error) {
    process.stderr.write(`wharf: ${(error as Error).message}\n`);
    process.exitCode = exitCodes.runtimeFailure;
  } finally {
    await services?.close();
  }
}

/** A password from a hidden prompt on a terminal (typed twice unless `confirm` is false), else the first line of standard input. */
export async function readPassword(prompt: string, confirm = true): Promise<string> {
  if (!process.stdin.isTTY) {
    let text = '';
    for await (const chunk of process.stdin) text += String(chunk);
    return text.split(/\r?\n/, 1)[0] ?? '';
  }
  const ask = (question: string) =>
    new Promise<string>((resolve) => {
      const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
      const output = rl as unknown as { _writeToOutput: (text: string) => void };
      // Echo nothing while the password is typed (the prompt is written directly).
      output._writeToOutput = () => undefined;
      process.stderr.write(question);
      rl.question('', (answer) => {
        rl.close();
        process.stderr.write('\n');
        resolve(answer);
      });
    });
  const first = await ask(prompt);
  if (!confirm) return first;
  const again = await ask('again: ');
  if (first !== again) throw new Error('the passwords do not match');
  return first;
}
