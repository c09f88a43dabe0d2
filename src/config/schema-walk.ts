import { z } from 'zod';
import type { GlobalMeta } from 'zod';
import './meta.js';

/** A step in a key path: an object key or an array index. */
export type PathSegment = string | number;

/** A schema node with its wrappers (default, optional, preprocess …) peeled off. */
export interface SchemaNode {
  /** The innermost schema: an object, array, string, number, boolean or enum schema. */
  readonly core: z.core.$ZodType;
  /** Metadata merged from every wrapper, outermost first so inner values win. */
  readonly meta: GlobalMeta;
  /** True when the key may be absent (optional or defaulted). */
  readonly optional: boolean;
  /** The default value when the schema has a plain `.default()`. */
  readonly defaultValue?: unknown;
  readonly hasDefault: boolean;
}

/** Peels default, prefault, optional, nullable and pipe (preprocess) wrappers. */
export function unwrap(schema: z.core.$ZodType): SchemaNode {
  let current = schema;
  let meta: GlobalMeta = {};
  let optional = false;
  let hasDefault = false;
  let defaultValue: unknown;
  for (;;) {
    meta = { ...meta, ...(z.globalRegistry.get(current) ?? {}) };
    if (current instanceof z.ZodDefault) {
      optional = true;
      if (!hasDefault) {
        hasDefault = true;
        defaultValue = current._zod.def.defaultValue;
      }
      current = current.unwrap();
    } else if (current instanceof z.ZodPrefault || current instanceof z.ZodOptional || current instanceof z.ZodNullable) {
      optional = true;
      current = current.unwrap();
    } else if (current instanceof z.ZodPipe) {
      current = current.out;
    } else {
      break;
    }
  }
  return { core: current, meta, optional, hasDefault, defaultValue };
}

/** The keys of an object schema (after unwrapping), or undefined if it is not an object. */
export function objectShape(schema: z.core.$ZodType): Readonly<Record<string, z.core.$ZodType>> | undefined {
  const { core } = unwrap(schema);
  return core instanceof z.ZodObject ? core.shape : undefined;
}

/** The schema of one child: an object's key or an array's element. */
export function childSchema(schema: z.core.$ZodType, segment: PathSegment): z.core.$ZodType | undefined {
  const { core } = unwrap(schema);
  if (core instanceof z.ZodArray) return typeof segment === 'number' ? core.element : undefined;
  if (core instanceof z.ZodObject && typeof segment === 'string') {
    return Object.hasOwn(core.shape, segment) ? core.shape[segment] : undefined;
  }
  return undefined;
}

/** The schema at a key path, or undefined when the path leaves the schema. */
export function schemaAt(root: z.core.$ZodType, path: readonly PathSegment[]): z.core.$ZodType | undefined {
  let current: z.core.$ZodType | undefined = root;
  for (const segment of path) {
    if (current === undefined) return undefined;
    current = childSchema(current, segment);
  }
  return current;
}

export type LeafKind = 'object' | 'array' | 'string' | 'number' | 'boolean' | 'enum' | 'other';

export function leafKind(schema: z.core.$ZodType): LeafKind {
  const { core } = unwrap(schema);
  const type = core._zod.def.type;
  switch (type) {
    case 'object':
    case 'array':
    case 'string':
    case 'number':
    case 'boolean':
    case 'enum':
      return type;
    default:
      return 'other';
  }
}

/** How a validation error describes an acceptable value: "an integer from 0 to 65535". */
export function describeExpected(schema: z.core.$ZodType): string {
  const { core, meta } = unwrap(schema);
  if (meta.expected !== undefined) return meta.expected;
  if (core instanceof z.ZodNumber) return describeNumber(core);
  if (core instanceof z.ZodEnum) return `one of ${core.options.map((option) => JSON.stringify(option)).join(', ')}`;
  if (core instanceof z.ZodBoolean) return 'true or false';
  if (core instanceof z.ZodArray) return 'a list';
  if (core instanceof z.ZodObject) return 'a mapping of keys to values';
  if (core._zod.def.type === 'string') {
    return core instanceof z.ZodString && (core.minLength ?? 0) > 0 ? 'a non-empty string' : 'a string';
  }
  return 'a valid value';
}

function describeNumber(schema: z.ZodNumber): string {
  const noun = schema.isInt ? 'an integer' : 'a number';
  const min = schema.minValue;
  const max = schema.maxValue;
  const hasMin = min !== null && Number.isFinite(min) && min > Number.MIN_SAFE_INTEGER;
  const hasMax = max !== null && Number.isFinite(max) && max < Number.MAX_SAFE_INTEGER;
  if (hasMin && hasMax) return `${noun} from ${min} to ${max}`;
  if (hasMin) return `${noun} of at least ${min}`;
  if (hasMax) return `${noun} of at most ${max}`;
  return noun;
}

/**
 * Turns a string (from the environment or an `_env:` substitution) into the schema's type when
 * it clearly is one; otherwise returns the string so validation reports it as it was written.
 */
export function coerceString(schema: z.core.$ZodType, value: string): unknown {
  const kind = leafKind(schema);
  const trimmed = value.trim();
  if (kind === 'number') {
    return trimmed !== '' && Number.isFinite(Number(trimmed)) ? Number(trimmed) : value;
  }
  if (kind === 'boolean') {
    const lower = trimmed.toLowerCase();
    if (['true', 'yes', 'on', '1'].includes(lower)) return true;
    if (['false', 'no', 'off', '0'].includes(lower)) return false;
    return value;
  }
  if (kind === 'array' || kind === 'object') {
    try {
      const parsed: unknown = JSON.parse(value);
      return parsed;
    } catch {
      return value;
    }
  }
  return value;
}

/** `storage.s3.partSize`, `mirror.upstreams[1].default`. */
export function formatPath(path: readonly PathSegment[]): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else text += text === '' ? segment : `.${segment}`;
  }
  return text === '' ? '(root)' : text;
}
