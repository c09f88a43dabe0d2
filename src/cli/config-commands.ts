import type { Command } from 'commander';
import { stringify } from 'yaml';
import { ConfigError, defaultConfigYaml, loadConfig, maskSecrets } from '../config/index.js';

/** Process exit codes of every `wharf` command. */
export const exitCodes = Object.freeze({
  /** Success. */
  ok: 0,
  /** The command ran and failed (I/O, database, network …). */
  runtimeFailure: 1,
  /** The configuration is invalid: unreadable file, YAML syntax, unknown key, wrong type … */
  configError: 2,
  /** `serve`: WHARF_ADMIN_USER names an existing account that is not an admin with WHARF_ADMIN_PASSWORD. */
  adminConflict: 3,
} as const);

/** Where the config commands write and what they read; tests pass their own. */
export interface ConfigCommandIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
  readonly setExitCode: (code: number) => void;
}

const processIo: ConfigCommandIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  setExitCode: (code) => {
    process.exitCode = code;
  },
};

/**
 * Adds `config check [file]` and `config print-default` to `program`.
 * - `config check [file]` loads the config (file, else WHARF_CONFIG, else defaults; then WHARF_*
 *   variables), prints the effective config as YAML with secrets masked and exits 0; on a
 *   configuration error it prints every problem to stderr and exits 2 (`exitCodes.configError`).
 * - `config print-default` prints the commented default config.
 * Exit codes are set through `process.exitCode`, never `process.exit`, so output is flushed.
 */
export function registerConfigCommands(program: Command, io: ConfigCommandIo = processIo): Command {
  const config = program.command('config').description('inspect and validate the configuration');

  config
    .command('check')
    .description('validate a config file and print the effective configuration (secrets masked)')
    .argument('[file]', 'config file (default: $WHARF_CONFIG, else none)')
    .action((file: string | undefined) => {
      try {
        const loaded = loadConfig({
          file,
          env: io.env,
          onWarning: (message) => io.stderr(`warning: ${message}\n`),
        });
        io.stdout(stringify(maskSecrets(loaded)));
        io.setExitCode(exitCodes.ok);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        io.stderr(`configuration invalid:\n${error.problems.map((line) => `  ${line}\n`).join('')}`);
        io.setExitCode(exitCodes.configError);
      }
    });

  config
    .command('print-default')
    .description('print the default configuration as commented YAML')
    .action(() => {
      io.stdout(defaultConfigYaml());
      io.setExitCode(exitCodes.ok);
    });

  return config;
}
