import bcrypt from 'bcryptjs';
import { RegistryError } from '../errors.js';

const COST = 10;
/** bcrypt reads at most 72 bytes; longer passwords would be silently truncated. */
const MAX_BYTES = 72;
export const MIN_PASSWORD_LENGTH = 8;

export function hashPassword(password: string): Promise<string> {
  checkPassword(password);
  return bcrypt.hash(password, COST);
}

/** Checks a password against a bcrypt hash (`$2a$`, `$2b$` or htpasswd's `$2y$`). */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  if (!/^\$2[aby]\$\d\d\$/.test(hash) || Buffer.byteLength(password) > MAX_BYTES) return false;
  return bcrypt.compare(password, hash.replace(/^\$2y\$/, '$2b$'));
}

/** Throws INVALID_REQUEST for a password Wharf will not store. */
export function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new RegistryError('INVALID_REQUEST', `password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  if (Buffer.byteLength(password) > MAX_BYTES) throw new RegistryError('INVALID_REQUEST', `password must have at most ${MAX_BYTES} bytes`);
}

/** A hash of nothing, checked when a user is unknown so that the answer takes as long. */
export const DUMMY_HASH = bcrypt.hashSync('wharf-dummy-password', COST);
