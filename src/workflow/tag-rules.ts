import { RegistryError } from '../errors.js';
import type { ProjectRulesStore } from '../metadata/project-rules.js';
import { projectOf } from '../oci/names.js';
import type { TagProtection } from '../gc/tag-protection.js';

/** Tag patterns: `*` any run of characters, `?` one character, everything else literal (`v*`, `release-*`, `*`). */
export function tagPatternMatches(pattern: string, tag: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`).test(tag);
}

const PATTERN = /^[A-Za-z0-9_.*?-]{1,128}$/;
export const isTagPattern = (value: string): boolean => PATTERN.test(value);

/** The immutable-tag pattern of `repository`'s project that `tag` matches, if any. */
export async function immutableRuleFor(rules: Pick<ProjectRulesStore, 'get'>, repository: string, tag: string): Promise<string | undefined> {
  const stored = await rules.get(projectOf(repository));
  return stored?.immutableTags.find((pattern) => tagPatternMatches(pattern, tag));
}

/** DENIED, naming the rule (podman and skopeo print the message). */
export function immutableDenied(repository: string, tag: string, pattern: string, what: 'moved' | 'deleted'): RegistryError {
  return new RegistryError(
    'DENIED',
    `tag ${repository}:${tag} is immutable (rule: immutable tags ${pattern} of project ${projectOf(repository)}) and cannot be ${what}`,
    { detail: { rule: 'immutableTags', pattern, project: projectOf(repository), repository, tag } },
  );
}

/**
 * For garbage collection and retention (src/gc): a tag an immutable-tag rule holds is never
 * removed; answers the rule's name (for GC reports), or undefined.
 */
export function tagProtection(rules: Pick<ProjectRulesStore, 'get'>): TagProtection {
  return {
    async isProtected(repository, tag) {
      const pattern = await immutableRuleFor(rules, repository, tag);
      return pattern === undefined ? undefined : `immutable tags ${pattern} of project ${projectOf(repository)}`;
    },
  };
}
