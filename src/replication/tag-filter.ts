import picomatch from 'picomatch';
import semver from 'semver';
import { RegistryError } from '../errors.js';

/**
 * Which tags a rule takes:
 * - `glob`: `1.*`, `{22.04,24.04}`, `*-alpine` (picomatch syntax; `*` alone takes every tag);
 * - `regex`: a JavaScript regular expression the whole tag must match (`22\.04|24\.04`);
 * - `semver`: a range (`>=20 <23`, `^1.2`, `1.x`) that tags which are versions must satisfy.
 *   `20`, `20.11` and `v20.11.1` count as 20.0.0, 20.11.0 and 20.11.1; a tag with a suffix
 *   (`20-alpine`) is not a version and never matches; pre-releases (`1.2.0-rc.1`) only match a
 *   range that names a pre-release of the same version, as npm does.
 */
export interface TagFilter {
  type: 'glob' | 'regex' | 'semver';
  pattern: string;
}

export const tagFilterTypes = ['glob', 'regex', 'semver'] as const;

const SHORT_VERSION = /^v?(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?$/;

/** A tag as a version, or null when it is not one. */
function versionOf(tag: string): string | null {
  const short = SHORT_VERSION.exec(tag);
  if (short) return `${short[1]}.${short[2] ?? '0'}.0`;
  return semver.valid(tag);
}

/** Compiles a filter to a predicate; an invalid pattern is INVALID_REQUEST naming it. */
export function tagMatcher(filter: TagFilter): (tag: string) => boolean {
  const invalid = (why: string) => new RegistryError('INVALID_REQUEST', `invalid ${filter.type} tag filter "${filter.pattern}": ${why}`, { detail: { filter } });
  if (filter.pattern.length === 0) throw invalid('the pattern is empty');
  switch (filter.type) {
    case 'glob': {
      const match = picomatch(filter.pattern, { dot: true });
      return (tag) => match(tag);
    }
    case 'regex': {
      let pattern: RegExp;
      try {
        pattern = new RegExp(`^(?:${filter.pattern})$`, 'u');
      } catch (error) {
        throw invalid((error as Error).message);
      }
      return (tag) => pattern.test(tag);
    }
    case 'semver': {
      const range = semver.validRange(filter.pattern);
      if (range === null) throw invalid('not a semver range (for example ">=20 <23" or "^1.2")');
      return (tag) => {
        const version = versionOf(tag);
        return version !== null && semver.satisfies(version, range);
      };
    }
  }
}
