import type { Command } from 'commander';
import { buildApp } from '../app.js';
import { ConfigError, loadConfig, type ConfigOverrides } from '../config/index.js';
import { createLogger } from '../lib/logger.js';
import { exitCodes } from './config-commands.js';

interface ServeFlags {
  config?: string;
  port?: string;
  address?: string;
  data?: string;
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run the registry (no config: port 5000, filesystem storage and SQLite in ./data)')
    .option('-c, --config <file>', 'YAML config file (default: $WHARF_CONFIG, else built-in defaults)')
    .option('-p, --port <port>', 'port to listen on (http.port)')
    .option('-a, --address <address>', 'address to bind (http.address)')
    .option('-d, --data <dir>', 'data directory for the embedded defaults (dataDirectory)')
    .action(async (flags: ServeFlags) => {
      process.exitCode = await serve(flags);
    });
}

async function serve(flags: ServeFlags): Promise<number> {
  const overrides: ConfigOverrides = {};
  if (flags.data !== undefined) overrides.dataDirectory = flags.data;
  if (flags.port !== undefined || flags.address !== undefined) {
    overrides.http = {};
    if (flags.port !== undefined) (overrides.http as Record<string, unknown>).port = flags.port;
    if (flags.address !== undefined) overrides.http.address = flags.address;
  }
  let config;
  try {
    config = loadConfig({ file: flags.config, overrides, onWarning: (message) => process.stderr.write(`warning: ${message}\n`) });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return exitCodes.configError;
    }
    throw error;
  }
  const logger = createLogger(config.log.level);
  let app;
  try {
    app = await buildApp(config, logger);
  } catch (error) {
    logger.fatal({ err: error }, 'startup failed');
    process.stderr.write(`wharf: cannot start: ${(error as Error).message}\n`);
    return exitCodes.runtimeFailure;
  }
  const port = await app.listen();
  logger.info({ address: config.http.address, port, storage: app.storage.name, database: config.database.driver }, 'wharf listening');

  await new Promise<void>((resolveStop) => {
    const stop = (signal: string) => {
      logger.info({ signal }, 'shutting down');
      resolveStop();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  const grace = setTimeout(() => {
    logger.warn({ graceMs: config.http.shutdownGraceMs }, 'grace period over, closing remaining connections');
    app.http.server.closeAllConnections();
  }, config.http.shutdownGraceMs);
  grace.unref();
  await app.close();
  clearTimeout(grace);
  logger.info('stopped');
  return exitCodes.ok;
}
