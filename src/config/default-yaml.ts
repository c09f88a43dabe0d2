import type { z } from 'zod';
import { stringify } from 'yaml';
import { wharfConfigSchema } from './schema.js';
import { childSchema, objectShape, unwrap } from './schema-walk.js';
import { isRecord } from './sections/common.js';

/**
 * The default configuration as commented YAML (for `wharf config print-default`). Keys with a
 * default are written with it; optional keys and sections are written commented out, with an
 * example value where the schema has one. Loading the output yields exactly the defaults.
 */
export function defaultConfigYaml(): string {
  const defaults: unknown = wharfConfigSchema.parse({});
  const lines = [
    '# Wharf configuration. Every key is optional; this file lists the defaults.',
    '# Any value may be written _env:NAME or _env:NAME:default to read it from the environment,',
    '# and any key may be set as WHARF_<SECTION>_<KEY> (e.g. WHARF_HTTP_PORT=5000).',
    '# Precedence: defaults < this file < environment < command-line flags.',
    '',
    ...renderObject(wharfConfigSchema, defaults, false),
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * Lines for the keys of an object schema. Outside a commented-out block each key gets its
 * description above it and absent keys are commented out; inside one (`inComment`, the caller
 * comments every line) absent keys are written bare, with their example or default if any.
 */
function renderObject(schema: z.core.$ZodType, value: unknown, inComment: boolean): string[] {
  const shape = objectShape(schema) ?? {};
  const values = isRecord(value) ? value : {};
  const lines: string[] = [];
  const topLevel = schema === wharfConfigSchema;
  for (const [key, child] of Object.entries(shape)) {
    const node = unwrap(child);
    const current = values[key] ?? (inComment && node.hasDefault ? node.defaultValue : undefined);
    const type = node.core._zod.def.type;
    if (topLevel && lines.length > 0) lines.push('');
    if (!inComment && node.meta.description !== undefined) lines.push(`# ${node.meta.description}`);
    if (type === 'object') {
      if (isRecord(current)) {
        lines.push(`${key}:`, ...indent(renderObject(child, current, inComment)));
      } else {
        const block = [`${key}:`, ...indent(renderObject(child, undefined, true))];
        lines.push(...(inComment ? block : commentOut(block)));
      }
    } else if (type === 'array') {
      lines.push(`${key}: ${scalar(current ?? [])}`);
      const element = childSchema(child, 0);
      if (!inComment && element !== undefined && objectShape(element) !== undefined) {
        const [first = '', ...rest] = renderObject(element, undefined, true);
        lines.push(...commentOut([`${key}:`, `  - ${first}`, ...rest.map((line) => `    ${line}`)]));
      }
    } else if (current !== undefined) {
      lines.push(`${key}: ${scalar(current)}`);
    } else {
      const example = node.meta.example === undefined ? '' : ` ${scalar(node.meta.example)}`;
      lines.push(`${inComment ? '' : '# '}${key}:${example}`);
    }
  }
  return lines;
}

function scalar(value: unknown): string {
  return stringify(value, { collectionStyle: 'flow' }).trimEnd();
}

function indent(lines: readonly string[]): string[] {
  return lines.map((line) => (line === '' ? line : `  ${line}`));
}

function commentOut(lines: readonly string[]): string[] {
  return lines.map((line) => `# ${line}`);
}
