import { BackendError } from '../errors.js';

/**
 * SQLSTATEs that mean "the server cannot serve right now", not "this statement is wrong": class 08
 * (connection exceptions), admin/crash shutdown and start-up (57P01–57P03), too many connections
 * (53300), a statement or idle transaction cancelled by its timeout (57014, 25P03), read-only
 * after a failover to a standby (25006).
 */
const PG_UNAVAILABLE = new Set(['57P01', '57P02', '57P03', '53300', '57014', '25P03', '25006']);

/** Socket-level failures from node-postgres (and anything else speaking TCP). */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** node-postgres says these in plain text, without a code. */
const PG_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Query read timeout',
  'is not queryable',
  'Client was closed and is not queryable',
  'Connection terminated due to connection timeout',
];

/** SQLite result codes for a file another process holds, a full disk or an I/O failure. */
const SQLITE_UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|CANTOPEN|PROTOCOL|NOLFS)/;

/** True when `error` means the database is down or unreachable, not that the request was wrong. */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code.startsWith('08') || PG_UNAVAILABLE.has(code) || NETWORK_CODES.has(code) || SQLITE_UNAVAILABLE.test(code)) return true;
  }
  return PG_MESSAGES.some((text) => error.message.includes(text));
}

/** The error callers see: a BackendError (503 UNAVAILABLE at the HTTP edge) when the database is down, else `error` itself. */
export function databaseError(error: unknown): unknown {
  if (error instanceof BackendError || !isDatabaseUnavailable(error)) return error;
  return new BackendError('database', (error as Error).message.split('\n', 1)[0] ?? 'unavailable', { cause: error });
}
