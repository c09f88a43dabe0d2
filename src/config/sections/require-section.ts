import { z } from 'zod';
import { isRecord } from './common.js';

/**
 * Reports each required key of `section` that `parent[key]` lacks, as an issue at
 * `<key>.<requiredKey>` — so "driver s3 without storage.s3" names `storage.s3.bucket`.
 * Runs on unvalidated input (refinements run even when other keys failed), so it only reads.
 */
export function requireSection(
  ctx: z.RefinementCtx,
  parent: Record<string, unknown>,
  key: string,
  section: z.ZodObject,
  reason: string,
): void {
  const present = parent[key];
  if (present !== undefined && !isRecord(present)) return; // the object check reports the type
  if (isRecord(present)) return; // the section's own schema reports its missing keys
  for (const [name, child] of Object.entries(section.shape)) {
    if (z.safeParse(child, undefined).success) continue; // optional or defaulted
    ctx.addIssue({ code: 'custom', path: [key, name], message: `required when ${reason}`, params: { missing: true } });
  }
}
