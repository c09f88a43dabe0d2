import { z } from 'zod';
import { DEFAULT_CHUNK_BYTES, MIN_INTERVAL_SECONDS, pushTriggers } from './rule-spec.js';
import { tagFilterTypes } from './tag-filter.js';

/**
 * What a client sends to create or change a rule (the API's body, `wharf replicate create`'s
 * file). One zod schema: the API's JSON schema (and so the OpenAPI document and the console's
 * types) is generated from it, and the CLI validates its input with it.
 */
const tagFilter = z
  .object({
    type: z.enum(tagFilterTypes).describe('glob (1.*), regex (22\\.04|24\\.04) or semver (>=20 <23)'),
    pattern: z.string().min(1).max(500),
  })
  .strict()
  .describe('which tags: absent or null takes every tag');

const repositorySelector = z
  .object({
    name: z.string().min(1).max(255).describe('repository at the upstream (library/node)'),
    tags: tagFilter.nullable().optional(),
  })
  .strict();

export const pullSpecSchema = z
  .object({
    upstream: z.string().min(1).max(255).describe('a mirror upstream (mirror.upstreams[].name)'),
    repositories: z.array(repositorySelector).min(1).max(500),
    platforms: z.array(z.string().max(100)).max(50).default([]).describe('os/architecture[/variant] of index children to keep; empty: every platform'),
  })
  .strict();

export const pushSpecSchema = z
  .object({
    project: z.string().min(1).max(255).describe('the local project to copy from'),
    repositories: z.string().min(1).max(500).nullable().default(null).describe('glob over repository names inside the project (app, tools/*); null: every repository'),
    tags: tagFilter.nullable().default(null),
    target: z
      .object({
        url: z.string().min(1).max(2000).describe('the target registry API URL (https://registry.example.com)'),
        namespace: z.string().min(1).max(255).nullable().default(null).describe('replaces the project in target names (release/app → <namespace>/app); null keeps names'),
        upload: z.enum(['chunked', 'monolithic']).default('chunked').describe('chunked uploads resume where they stopped; monolithic sends each blob in one PUT'),
        chunkBytes: z.number().int().min(1 << 20).max(1 << 30).default(DEFAULT_CHUNK_BYTES).describe('bytes per chunk of a chunked upload'),
      })
      .strict(),
    triggers: z.array(z.enum(pushTriggers as [string, ...string[]])).max(2).default(['push', 'promotion']).describe('copy as soon as an image is pushed to, or promoted into, the project'),
    referrers: z.boolean().default(true).describe('copy referrers (signatures, SBOMs, attestations) too'),
  })
  .strict();

const credentials = z
  .object({ username: z.string().min(1).max(500), password: z.string().min(1).max(10_000) })
  .strict()
  .describe('the target registry credentials: stored encrypted, never returned; null removes them, absent keeps them');

export const ruleInputSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/).describe('unique rule name: lower-case letters, digits, . _ -'),
    kind: z.enum(['pull', 'push']),
    enabled: z.boolean().default(true),
    intervalSeconds: z
      .number()
      .int()
      .min(MIN_INTERVAL_SECONDS)
      .max(366 * 86_400)
      .nullable()
      .optional()
      .describe('run every this many seconds (pull rules: default 21600, six hours); null: no schedule'),
    bandwidthBytesPerSecond: z.number().int().min(1024).nullable().default(null).describe('the most bytes a second the rule moves; null: no limit'),
    pull: pullSpecSchema.optional(),
    push: pushSpecSchema.optional(),
    credentials: credentials.nullable().optional(),
  })
  .strict();

export type RuleInput = z.input<typeof ruleInputSchema>;
export type ParsedRuleInput = z.output<typeof ruleInputSchema>;

/** Pull rules are scheduled unless they say otherwise: six hours keeps images warm without load. */
export const DEFAULT_PULL_INTERVAL_SECONDS = 6 * 3600;
