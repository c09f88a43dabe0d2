import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { AdminBootstrapConflict, checkDataPermissions } from '../app.js';
import type { WharfConfig } from '../config/index.js';
import { shellQuote } from '../lib/shell-quote.js';
import { exitCodes } from './config-commands.js';

/** Where `wharf user …` finds the same database as this `serve`: its --config and --data flags. */
export interface DatabaseFlagsUsed {
  config?: string | undefined;
  data?: string | undefined;
}

/** 127.0.0.0/8, ::1 (also IPv4-mapped) and `localhost`: only this machine can connect. */
export function isLoopback(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(bare) || /^::ffff:127\./.test(bare);
  return false;
}

/** The `wharf listening` line's advice when only this machine can connect. */
export function reachHint(config: WharfConfig): string | undefined {
  if (!isLoopback(config.http.address)) return undefined;
  return 'only this machine can connect; to serve others set http.address: 0.0.0.0 and auth.mode: token (docs/security.md)';
}

/**
 * Warnings worth an operator's attention at start, as a `warn` log line and in plain words on
 * stderr: no authentication on a network address, and data paths other local users can read.
 */
export async function warnAtStart(config: WharfConfig, logger: Logger, port: number): Promise<void> {
  const { address } = config.http;
  if (config.auth.mode === 'none' && !isLoopback(address)) {
    logger.warn({ address, port, authMode: 'none' }, 'serving without authentication on a network address');
    process.stderr.write(
      `wharf: WARNING: auth.mode is none and Wharf listens on ${address}:${port}: anyone who can reach it can push, pull and delete images.\n` +
        `wharf: set auth.mode: token (docs/security.md), or http.address: 127.0.0.1 to serve this machine only.\n`,
    );
  }
  for (const loose of await checkDataPermissions(config)) {
    const mode = `0${loose.mode.toString(8)}`;
    logger.warn({ path: loose.path, mode, fix: loose.fix }, 'data path is open to other local users');
    process.stderr.write(
      `wharf: WARNING: ${loose.path} has mode ${mode}: other local users can read Wharf's data (password hashes, the token signing key, images).\n` +
        `wharf: fix it with: ${loose.fix}\n`,
    );
  }
}

/** Logs and prints the refusal to start for a conflicting WHARF_ADMIN_USER; returns the exit code. */
export function reportAdminConflict(error: AdminBootstrapConflict, logger: Logger, flags: DatabaseFlagsUsed): number {
  logger.fatal({ user: error.user, wrongPassword: error.wrongPassword, notAdmin: error.notAdmin }, 'admin bootstrap conflicts with an existing account');
  process.stderr.write(adminConflictMessage(error, flags));
  return exitCodes.adminConflict;
}

/** The refusal in plain words, with the commands that resolve it. */
function adminConflictMessage(error: AdminBootstrapConflict, flags: DatabaseFlagsUsed): string {
  const where = [flags.config !== undefined ? ` --config ${shellQuote(flags.config)}` : '', flags.data !== undefined ? ` --data ${shellQuote(flags.data)}` : ''].join('');
  const user = shellQuote(error.user);
  const lines = [`wharf: cannot start: ${error.message}.`];
  lines.push(`wharf: review the accounts first (an account you did not create means someone else did): wharf user list${where}`);
  if (error.wrongPassword) {
    lines.push(`wharf: if you changed that password on purpose, remove WHARF_ADMIN_PASSWORD from the environment (it is only needed once);`);
    lines.push(`wharf: else give the account the variable's password: printf '%s\\n' "$WHARF_ADMIN_PASSWORD" | wharf user passwd ${user}${where}`);
  }
  if (error.notAdmin) lines.push(`wharf: to make it a system administrator: wharf user make-admin ${user}${where}`);
  return `${lines.join('\n')}\n`;
}

export const isAdminConflict = (error: unknown): error is AdminBootstrapConflict => error instanceof AdminBootstrapConflict;
