import type { z } from 'zod';
import { isRecord } from './sections/common.js';
import { childSchema, coerceString, formatPath, leafKind, objectShape, schemaAt, type PathSegment } from './schema-walk.js';

const ENV_REFERENCE = /^_env:([^:]*)(?::([\s\S]*))?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Environment variables starting with WHARF_ that are read by the app and are not config keys. */
export const reservedEnvNames: readonly string[] = ['WHARF_CONFIG', 'WHARF_ADMIN_USER', 'WHARF_ADMIN_PASSWORD'];

/**
 * Replaces every `_env:NAME` / `_env:NAME:default` string value in parsed YAML with the variable's
 * value (coerced to the schema's type at that key), collecting one problem line per reference
 * that cannot be resolved. A reference that resolves to the empty string yields `undefined` (the
 * key counts as absent). Returns a new value; the input is not changed.
 */
export function substituteEnvReferences(
  data: unknown,
  env: NodeJS.ProcessEnv,
  root: z.core.$ZodType,
  label: string,
  problems: string[],
): unknown {
  const visit = (value: unknown, path: PathSegment[]): unknown => {
    if (Array.isArray(value)) return value.map((item, index) => visit(item, [...path, index]));
    if (isRecord(value)) {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) out[key] = visit(item, [...path, key]);
      return out;
    }
    if (typeof value !== 'string') return value;
    const match = ENV_REFERENCE.exec(value);
    if (match === null) return value;
    const name = match[1] ?? '';
    const fallback = match[2];
    const where = `${label}: ${formatPath(path)}`;
    if (!ENV_NAME.test(name)) {
      // Not its default: that may be the secret itself.
      const shown = `_env:${name}${fallback === undefined ? '' : ':…'}`;
      problems.push(`${where}: malformed environment reference ${JSON.stringify(shown)}, expected _env:NAME or _env:NAME:default`);
      return value;
    }
    const resolved = env[name] ?? fallback;
    if (resolved === undefined) {
      problems.push(`${where}: environment variable ${name} is not set (the value "_env:${name}" has no default)`);
      return value;
    }
    if (resolved === '') return undefined; // an empty value means "not set": the key takes its default
    const schema = schemaAt(root, path);
    return schema === undefined ? resolved : coerceString(schema, resolved);
  };
  return visit(data, []);
}

/** One `WHARF_…` variable resolved to a key path. */
export interface EnvOverride {
  readonly variable: string;
  readonly path: readonly PathSegment[];
  readonly value: unknown;
}

/**
 * Finds the `WHARF_<SECTION>_<KEY>` variables that name config keys. The words after `WHARF_` are
 * matched against the schema's keys case-insensitively, and a multi-word key may be written with
 * or without underscores inside: WHARF_HTTP_PUBLICURL and WHARF_HTTP_PUBLIC_URL both set
 * `http.publicUrl`. Values are coerced to the key's type (numbers, booleans; lists and mappings
 * as JSON). Variables that match no key are returned in `unmatched`, never thrown.
 */
export function readEnvOverrides(
  env: NodeJS.ProcessEnv,
  root: z.core.$ZodType,
): { overrides: EnvOverride[]; unmatched: string[] } {
  const overrides: EnvOverride[] = [];
  const unmatched: string[] = [];
  for (const variable of Object.keys(env).sort()) {
    const value = env[variable];
    if (value === undefined || !variable.toUpperCase().startsWith('WHARF_')) continue;
    if (reservedEnvNames.includes(variable.toUpperCase())) continue;
    // The test harness's own variables (service endpoints) share the prefix but are not config.
    if (variable.toUpperCase().startsWith('WHARF_TEST_')) continue;
    const words = variable
      .slice('WHARF_'.length)
      .toLowerCase()
      .split('_')
      .filter((word) => word !== '');
    const path = matchWords(root, words);
    if (path === undefined) {
      unmatched.push(variable);
      continue;
    }
    const schema = schemaAt(root, path);
    overrides.push({ variable, path, value: schema === undefined ? value : coerceString(schema, value) });
  }
  return { overrides, unmatched };
}

/** Depth-first match of words against nested object keys; a leaf must consume every word. */
function matchWords(schema: z.core.$ZodType, words: readonly string[]): string[] | undefined {
  if (words.length === 0) return leafKind(schema) === 'object' ? undefined : [];
  const shape = objectShape(schema);
  if (shape === undefined) return undefined;
  for (const key of Object.keys(shape)) {
    const target = key.toLowerCase();
    let joined = '';
    for (let taken = 1; taken <= words.length; taken++) {
      joined += words[taken - 1] ?? '';
      if (joined.length > target.length) break;
      if (joined !== target) continue;
      const child = childSchema(schema, key);
      if (child === undefined) break;
      const rest = matchWords(child, words.slice(taken));
      if (rest !== undefined) return [key, ...rest];
    }
  }
  return undefined;
}
