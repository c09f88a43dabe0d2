import type { TagFact } from '../metadata/gc-scan.js';
import { tagMatcher, type RetentionRules } from './policy.js';

export type RetentionReason = 'drop-pattern' | 'beyond-latest' | 'too-old' | 'unpulled';

export interface TagRemoval extends TagFact {
  reason: RetentionReason;
}

const DAY_MS = 86_400_000;

/**
 * The tags of one repository that `rules` remove, each with the first rule that removes it. Tags
 * a keep pattern matches or `isProtected` names are never removed; the newest-N rule counts only
 * the tags no pattern matches. `lastPulled` is the last pull of the tag's manifest (null: never).
 */
export function tagsToRemove(
  tags: readonly TagFact[],
  rules: RetentionRules,
  options: { now: number; lastPulled: (digest: string) => number | null; isProtected: (tag: string) => boolean },
): TagRemoval[] {
  const keep = tagMatcher(rules.keepPatterns);
  const drop = tagMatcher(rules.dropPatterns);
  const candidates = tags.filter((t) => !keep(t.name) && !options.isProtected(t.name));
  const ranked = candidates.filter((t) => !drop(t.name)).sort((a, b) => b.updatedAt - a.updatedAt || (a.name < b.name ? -1 : 1));
  const beyondLatest = new Set(rules.keepLatest === undefined ? [] : ranked.slice(rules.keepLatest).map((t) => t.name));
  const ageCutoff = rules.maxAgeDays === undefined ? undefined : options.now - rules.maxAgeDays * DAY_MS;
  const pullCutoff = rules.unpulledDays === undefined ? undefined : options.now - rules.unpulledDays * DAY_MS;

  const removals: TagRemoval[] = [];
  for (const tag of candidates) {
    let reason: RetentionReason | undefined;
    if (drop(tag.name)) reason = 'drop-pattern';
    else if (beyondLatest.has(tag.name)) reason = 'beyond-latest';
    else if (ageCutoff !== undefined && tag.updatedAt < ageCutoff) reason = 'too-old';
    else if (pullCutoff !== undefined && (options.lastPulled(tag.digest) ?? tag.updatedAt) < pullCutoff) reason = 'unpulled';
    if (reason) removals.push({ ...tag, reason });
  }
  return removals;
}

/** Whether any rule can remove a tag at all (no rules: retention is off). */
export function hasRules(rules: RetentionRules | undefined): rules is RetentionRules {
  if (!rules) return false;
  return rules.keepLatest !== undefined || (rules.dropPatterns?.length ?? 0) > 0 || rules.maxAgeDays !== undefined || rules.unpulledDays !== undefined;
}
