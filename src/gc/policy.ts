import { RegistryError } from '../errors.js';

/**
 * Which tags of each repository of a project GC removes (docs/gc.md). A tag is removed when no
 * keep pattern matches it, no immutability rule protects it, and any of the drop rules holds.
 */
export interface RetentionRules {
  /** Of the tags no pattern matches, keep the newest N by push time; the others go. */
  keepLatest?: number;
  /** Tags matching any of these (`*` any run of characters, `?` one) are never removed. */
  keepPatterns?: string[];
  /** Tags matching any of these are removed. */
  dropPatterns?: string[];
  /** Tags pushed (set or moved) more than D days ago are removed. */
  maxAgeDays?: number;
  /** Tags whose image nobody pulled for D days (or since its push, if never) are removed. */
  unpulledDays?: number;
}

/** A project's lifecycle policy. Without one: no retention, untagged manifests go after the global grace. */
export interface ProjectPolicy {
  retention?: RetentionRules;
  /** Whether GC removes manifests nothing holds (no tag, index or subject). Default true. */
  deleteUntagged: boolean;
  /** How long such a manifest is kept after its last push, tag or pull; default `gc.untaggedGraceHours`. */
  untaggedGraceHours?: number;
}

export const defaultPolicy: ProjectPolicy = { deleteUntagged: true };

const MAX_PATTERNS = 50;
const PATTERN = /^[A-Za-z0-9_.*?-]{1,128}$/;

/** The JSON schema of a policy, shared by the API (request and response) and `wharf project policy`. */
export const policySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    retention: {
      type: 'object',
      additionalProperties: false,
      properties: {
        keepLatest: { type: 'integer', minimum: 0, maximum: 100_000 },
        keepPatterns: { type: 'array', maxItems: MAX_PATTERNS, items: { type: 'string', pattern: PATTERN.source } },
        dropPatterns: { type: 'array', maxItems: MAX_PATTERNS, items: { type: 'string', pattern: PATTERN.source } },
        maxAgeDays: { type: 'integer', minimum: 1, maximum: 36_500 },
        unpulledDays: { type: 'integer', minimum: 1, maximum: 36_500 },
      },
    },
    deleteUntagged: { type: 'boolean' },
    untaggedGraceHours: { type: 'integer', minimum: 0, maximum: 876_000 },
  },
} as const;

const invalid = (message: string) => new RegistryError('INVALID_REQUEST', message);

function integer(value: unknown, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw invalid(`${name} must be an integer from ${min} to ${max}`);
  return value;
}

function patterns(value: unknown, name: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length > MAX_PATTERNS) throw invalid(`${name} must be a list of at most ${MAX_PATTERNS} patterns`);
  for (const item of value) {
    if (typeof item !== 'string' || !PATTERN.test(item)) throw invalid(`${name}: "${String(item)}" is not a tag pattern (letters, digits, "_.-", "*" and "?")`);
  }
  return value as string[];
}

/** Validates untrusted input (the CLI's JSON, a stored row) into a policy; throws INVALID_REQUEST. */
export function parsePolicy(input: unknown): ProjectPolicy {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw invalid('a policy is a JSON object');
  const { retention, deleteUntagged, untaggedGraceHours, ...rest } = input as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw invalid(`unknown policy key "${unknown[0]}"`);
  if (deleteUntagged !== undefined && typeof deleteUntagged !== 'boolean') throw invalid('deleteUntagged must be true or false');
  const policy: ProjectPolicy = { deleteUntagged: deleteUntagged ?? true };
  const grace = integer(untaggedGraceHours, 'untaggedGraceHours', 0, 876_000);
  if (grace !== undefined) policy.untaggedGraceHours = grace;
  if (retention !== undefined) policy.retention = parseRetention(retention);
  return policy;
}

function parseRetention(input: unknown): RetentionRules {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw invalid('retention is a JSON object');
  const { keepLatest, keepPatterns, dropPatterns, maxAgeDays, unpulledDays, ...rest } = input as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw invalid(`unknown retention key "${unknown[0]}"`);
  const rules: RetentionRules = {};
  const entries: Array<[keyof RetentionRules, number | string[] | undefined]> = [
    ['keepLatest', integer(keepLatest, 'retention.keepLatest', 0, 100_000)],
    ['keepPatterns', patterns(keepPatterns, 'retention.keepPatterns')],
    ['dropPatterns', patterns(dropPatterns, 'retention.dropPatterns')],
    ['maxAgeDays', integer(maxAgeDays, 'retention.maxAgeDays', 1, 36_500)],
    ['unpulledDays', integer(unpulledDays, 'retention.unpulledDays', 1, 36_500)],
  ];
  for (const [key, value] of entries) if (value !== undefined) Object.assign(rules, { [key]: value });
  return rules;
}

/** A tag pattern as a matcher: `*` any run of characters, `?` exactly one, everything else literal. */
export function tagMatcher(patternList: readonly string[] | undefined): (tag: string) => boolean {
  if (!patternList || patternList.length === 0) return () => false;
  const source = patternList.map((p) => p.replace(/[.+^${}()|[\]\\-]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')).join('|');
  const regex = new RegExp(`^(?:${source})$`);
  return (tag) => regex.test(tag);
}
