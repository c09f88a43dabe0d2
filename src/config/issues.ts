import type { GlobalMeta, z } from 'zod';
import { maskUrlPassword, maskUrlPasswords } from './redact.js';
import { describeExpected, formatPath, objectShape, schemaAt, unwrap, type PathSegment } from './schema-walk.js';

/** Names the source (file, environment variable, flags) that supplied a key path. */
export type SourceOf = (path: readonly PathSegment[]) => string;

/** One readable line per zod issue: `<source>: <key path>: <problem>`. */
export function formatIssues(root: z.core.$ZodType, issues: readonly z.core.$ZodIssue[], sourceOf: SourceOf): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const path = issue.path.filter((segment): segment is PathSegment => typeof segment !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      const siblings = Object.keys(objectShape(schemaAt(root, path) ?? root) ?? {});
      for (const key of issue.keys) {
        const keyPath = [...path, key];
        const suggestion = suggest(key, siblings);
        const hint = suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`;
        lines.push(`${sourceOf(keyPath)}: ${formatPath(keyPath)}: unknown key${hint}`);
      }
      continue;
    }
    lines.push(`${sourceOf(path)}: ${formatPath(path)}: ${describeProblem(root, issue, path)}`);
  }
  return lines;
}

function describeProblem(root: z.core.$ZodType, issue: z.core.$ZodIssue, path: readonly PathSegment[]): string {
  const node = schemaAt(root, path);
  const expected = node === undefined ? undefined : describeExpected(node);
  const params = issue.code === 'custom' ? issue.params : undefined;
  if (params?.['verbatim'] === true) return issue.message;
  if (params?.['missing'] === true) {
    return expected === undefined ? issue.message : `${issue.message} (expected ${expected})`;
  }
  if (issue.input === undefined && issue.code === 'invalid_type') {
    return `required key missing, expected ${expected ?? issue.expected}`;
  }
  return `expected ${expected ?? issue.message}, got ${describeInput(issue.input, node === undefined ? {} : unwrap(node).meta)}`;
}

/**
 * A short rendering of a wrong value: strings quoted, structures named, long text cut. The value
 * of a key marked secret is never shown, only its kind; a URL marked secret shows with its
 * password masked, as `config check` prints it; so does any URL with a password in any string.
 */
export function describeInput(value: unknown, meta: GlobalMeta = {}): string {
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  let shown = value;
  if (meta.secretUrl === true && typeof value === 'string') shown = maskUrlPassword(value);
  else if (meta.secret === true || meta.secretUrl === true) shown = undefined;
  if (shown === undefined) return `${kindOf(value)} (secret, not shown)`;
  if (typeof shown === 'string') {
    const masked = maskUrlPasswords(shown);
    return JSON.stringify(masked.length > 80 ? `${masked.slice(0, 77)}...` : masked);
  }
  return String(shown);
}

function kindOf(value: unknown): string {
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'number') return 'a number';
  if (typeof value === 'boolean') return 'a boolean';
  return 'a value';
}

/** The sibling key closest to a misspelt one, if it is close enough to be a likely typo. */
export function suggest(key: string, candidates: readonly string[]): string | undefined {
  const normalized = normalizeKey(key);
  const exact = candidates.find((candidate) => normalizeKey(candidate) === normalized);
  if (exact !== undefined) return exact;
  if (normalized.length >= 3) {
    const extended = candidates.find((candidate) => normalizeKey(candidate).startsWith(normalized));
    if (extended !== undefined) return extended; // "ttl" → "ttlSeconds"
  }
  const limit = key.length <= 3 ? 1 : key.length <= 8 ? 2 : 3;
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(normalized, normalizeKey(candidate));
    if (distance <= limit && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/[-_]/g, '');
}

/** Optimal-string-alignment distance: Levenshtein plus adjacent transpositions ("prot" → "port" is 1). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  const at = (i: number, j: number): number => d[i * cols + j] ?? 0;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        value = Math.min(value, at(i - 2, j - 2) + 1);
      }
      d[i * cols + j] = value;
    }
  }
  return at(rows - 1, cols - 1);
}
