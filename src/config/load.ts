import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { readEnvOverrides, substituteEnvReferences } from './env.js';
import { ConfigError } from './errors.js';
import { describeInput, formatIssues } from './issues.js';
import { wharfConfigSchema, type ConfigOverrides, type WharfConfig } from './schema.js';
import { coerceString, formatPath, schemaAt, type PathSegment } from './schema-walk.js';
import { isRecord } from './sections/common.js';

export interface LoadConfigOptions {
  /** YAML config file. Absent: the file named by WHARF_CONFIG, else none (all defaults). */
  readonly file?: string | undefined;
  /** Environment for `_env:` references and WHARF_* overrides. Default: `process.env`. */
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** Values from command-line flags; highest precedence. String leaves are coerced like env values. */
  readonly overrides?: ConfigOverrides | undefined;
  /** Told about WHARF_* variables that match no config key (they are otherwise ignored). */
  readonly onWarning?: ((message: string) => void) | undefined;
}

const FLAGS = 'flags';

/**
 * Loads the configuration, synchronously: defaults < file < environment (WHARF_<SECTION>_<KEY>)
 * < flags. `_env:NAME[:default]` values in the file are replaced from the environment first.
 * Returns a deeply frozen, validated config, or throws a `ConfigError` listing every problem.
 */
export function loadConfig(options: LoadConfigOptions = {}): WharfConfig {
  const env = options.env ?? process.env;
  const file = options.file ?? nonEmpty(env['WHARF_CONFIG']);
  const problems: string[] = [];
  const sources = new Map<string, string>();
  let merged: Record<string, unknown> = {};

  if (file !== undefined) {
    const data = readYamlFile(file, problems);
    if (data !== undefined) {
      const substituted = stripEmpty(substituteEnvReferences(data, env, wharfConfigSchema, file, problems));
      if (isRecord(substituted)) {
        merged = substituted;
        recordSources(sources, substituted, [], file);
      } else {
        problems.push(`${file}: (root): expected a mapping of keys to values, got ${describeInput(substituted)}`);
      }
    }
  }

  const { overrides: envOverrides, unmatched } = readEnvOverrides(env, wharfConfigSchema);
  for (const variable of unmatched) {
    options.onWarning?.(`environment: ${variable} matches no config key; ignored`);
  }
  for (const { variable, path, value } of envOverrides) {
    const label = `environment (${variable})`;
    setAt(merged, path, value);
    recordSource(sources, path, label);
  }

  if (options.overrides !== undefined) {
    const flags = coerceStrings(stripEmpty(options.overrides), []);
    if (isRecord(flags)) {
      merged = mergeDeep(merged, flags);
      recordSources(sources, flags, [], FLAGS);
    }
  }

  if (problems.length > 0) throw new ConfigError(problems);
  const result = wharfConfigSchema.safeParse(merged, { reportInput: true });
  if (!result.success) {
    throw new ConfigError(formatIssues(wharfConfigSchema, result.error.issues, (path) => sourceOf(sources, path, file)));
  }
  return deepFreeze(result.data);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** Parses a YAML file; an empty file is `{}`, and `key:` with no value counts as absent. */
function readYamlFile(file: string, problems: string[]): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    problems.push(`${file}: cannot read the config file: ${reason}`);
    return undefined;
  }
  const document = parseDocument(text, { prettyErrors: true });
  if (document.errors.length > 0) {
    for (const error of document.errors) {
      const position = error.linePos?.[0];
      const where = position === undefined ? '' : ` line ${position.line}, column ${position.col}:`;
      const reason = (error.message.split('\n')[0] ?? error.message).replace(/ at line \d+, column \d+:?$/, '');
      problems.push(`${file}:${where} invalid YAML: ${reason}`);
    }
    return undefined;
  }
  const data: unknown = document.toJS();
  return data === null || data === undefined ? {} : stripEmpty(data);
}

/** Drops null and undefined values from mappings (an empty `key:` means "use the default"). */
function stripEmpty(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripEmpty);
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (item !== null && item !== undefined) out[key] = stripEmpty(item);
  }
  return out;
}

/** Coerces string leaves of flag overrides (commander hands over strings) to the schema's type. */
function coerceStrings(value: unknown, path: PathSegment[]): unknown {
  if (Array.isArray(value)) return value.map((item, index) => coerceStrings(item, [...path, index]));
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = coerceStrings(item, [...path, key]);
    return out;
  }
  if (typeof value !== 'string') return value;
  const schema = schemaAt(wharfConfigSchema, path);
  return schema === undefined ? value : coerceString(schema, value);
}

/** Objects merge key by key; anything else (lists included) is replaced. */
function mergeDeep(base: Record<string, unknown>, top: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(top)) {
    const current = out[key];
    out[key] = isRecord(current) && isRecord(value) ? mergeDeep(current, value) : value;
  }
  return out;
}

function setAt(target: Record<string, unknown>, path: readonly PathSegment[], value: unknown): void {
  let node = target;
  path.forEach((segment, index) => {
    const key = String(segment);
    if (index === path.length - 1) {
      node[key] = value;
      return;
    }
    const next = node[key];
    if (isRecord(next)) {
      node = next;
    } else {
      const created: Record<string, unknown> = {};
      node[key] = created;
      node = created;
    }
  });
}

function recordSources(sources: Map<string, string>, value: unknown, path: PathSegment[], label: string): void {
  recordSource(sources, path, label);
  if (Array.isArray(value)) value.forEach((item, index) => recordSources(sources, item, [...path, index], label));
  else if (isRecord(value)) {
    for (const [key, item] of Object.entries(value)) recordSources(sources, item, [...path, key], label);
  }
}

/** The leaf is attributed to `label`; ancestors keep the first source that created them. */
function recordSource(sources: Map<string, string>, path: readonly PathSegment[], label: string): void {
  for (let length = 0; length < path.length; length++) {
    const key = formatPath(path.slice(0, length));
    if (!sources.has(key)) sources.set(key, label);
  }
  sources.set(formatPath(path), label);
}

/** The source of a key, else of its nearest ancestor that some source wrote. */
function sourceOf(sources: ReadonlyMap<string, string>, path: readonly PathSegment[], file: string | undefined): string {
  for (let length = path.length; length >= 1; length--) {
    const label = sources.get(formatPath(path.slice(0, length)));
    if (label !== undefined) return label;
  }
  return file ?? 'defaults';
}

/** Freezes an object graph in place and returns it, typed read-only all the way down. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
