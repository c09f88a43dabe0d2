import { z } from 'zod';

/** A file-system path; any non-empty string. Relative paths resolve against the working directory. */
export function pathString(description: string): z.ZodString {
  return z.string().min(1).meta({ description, expected: 'a non-empty file path' });
}

/** An integer within [min, max]; error messages are derived from the bounds. */
export function integer(min: number, max: number = Number.MAX_SAFE_INTEGER): z.ZodNumber {
  return z.number().int().min(min).max(max);
}

/** An absolute http or https URL without a trailing slash. */
export function httpUrl(description: string): z.ZodString {
  return z
    .string()
    .refine(isHttpUrlWithoutTrailingSlash)
    .meta({ description, expected: 'an http(s) URL without a trailing slash' });
}

function isHttpUrlWithoutTrailingSlash(value: string): boolean {
  if (value.endsWith('/')) return false;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** An AES-256 key as base64 (a secret: never echoed); absent means a key kept in the database. */
export function encryptionKey(what: string) {
  return z
    .string()
    .refine((value) => Buffer.from(value, 'base64').length === 32)
    .optional()
    .meta({ description: `base64 of 32 bytes that encrypts ${what} (absent: a key generated and kept in the database)`, expected: 'the base64 of exactly 32 bytes', secret: true });
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
