import type { z } from 'zod';
import { deepFreeze } from './load.js';
import { wharfConfigSchema, type WharfConfig } from './schema.js';
import { childSchema, objectShape, unwrap } from './schema-walk.js';
import { MASK, maskUrlPassword } from './redact.js';
import { isRecord } from './sections/common.js';

export { MASK };

/**
 * Key paths whose values are secrets, derived from the schema's `secret` / `secretUrl` metadata
 * (`[]` marks any list element): e.g. `storage.s3.secretKey`, `mirror.upstreams[].password`.
 */
export const secretKeyPaths: readonly string[] = Object.freeze(collectSecretPaths(wharfConfigSchema, ''));

function collectSecretPaths(schema: z.core.$ZodType, prefix: string): string[] {
  const node = unwrap(schema);
  if (node.meta.secret === true || node.meta.secretUrl === true) return [prefix];
  if (node.core._zod.def.type === 'array') {
    const element = childSchema(schema, 0);
    return element === undefined ? [] : collectSecretPaths(element, `${prefix}[]`);
  }
  const shape = objectShape(schema);
  if (shape === undefined) return [];
  return Object.entries(shape).flatMap(([key, child]) =>
    collectSecretPaths(child, prefix === '' ? key : `${prefix}.${key}`),
  );
}

/**
 * A deeply frozen copy of `config` with every secret replaced by `"****"`; a URL marked secret
 * (the PostgreSQL URL) keeps everything but its password.
 */
export function maskSecrets(config: WharfConfig): WharfConfig {
  const masked = mask(config, wharfConfigSchema);
  // The copy has the same shape as `config`: only string leaves were replaced by strings.
  return deepFreeze(masked as WharfConfig);
}

function mask(value: unknown, schema: z.core.$ZodType | undefined): unknown {
  const node = schema === undefined ? undefined : unwrap(schema);
  if (typeof value === 'string' && node !== undefined) {
    if (node.meta.secret === true) return MASK;
    if (node.meta.secretUrl === true) return maskUrlPassword(value) ?? MASK;
    return value;
  }
  if (Array.isArray(value)) {
    return value.map((item, index) => mask(item, schema === undefined ? undefined : childSchema(schema, index)));
  }
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] = mask(item, schema === undefined ? undefined : childSchema(schema, key));
    }
    return out;
  }
  return value;
}
