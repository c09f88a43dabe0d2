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

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
