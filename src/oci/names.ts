import { RegistryError } from '../errors.js';
import { tryParseDigest } from './digest.js';

/** Repository name grammar from the distribution spec: path components joined by '/'. */
const NAME_PATTERN = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG_PATTERN = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
export const MAX_NAME_LENGTH = 255;

export function isValidRepositoryName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_NAME_LENGTH && NAME_PATTERN.test(name);
}

/**
 * Validates a repository name. Because the grammar admits only `[a-z0-9._-]` and '/', and no
 * component may start with '.', a valid name can never be `..`, absolute, or percent-encoded.
 */
export function parseRepositoryName(name: string): string {
  if (!isValidRepositoryName(name)) {
    throw new RegistryError('NAME_INVALID', 'invalid repository name', { detail: { name: name.slice(0, 300) } });
  }
  return name;
}

export function isValidTag(tag: string): boolean {
  return TAG_PATTERN.test(tag);
}

/** Whether `reference` could name a manifest at all: a valid tag, or a digest Wharf can verify. */
export function isManifestReference(reference: string): boolean {
  return isValidTag(reference) || tryParseDigest(reference) !== null;
}

export function parseTag(tag: string): string {
  if (!isValidTag(tag)) {
    throw new RegistryError('TAG_INVALID', 'invalid tag', { detail: { tag: tag.slice(0, 200) } });
  }
  return tag;
}

/** The project a repository belongs to: its first path component. */
export function projectOf(name: string): string {
  const slash = name.indexOf('/');
  return slash === -1 ? name : name.slice(0, slash);
}

/**
 * Splits an image reference as clients write it — `[host[:port]/]name[:tag|@digest]` — into the
 * repository name (the host dropped: a first component with a `.` or `:`, or `localhost`) and the
 * reference (undefined when none is written). Not validated: parse the parts afterwards.
 */
export function splitImageReference(value: string): { repository: string; reference: string | undefined } {
  const at = value.indexOf('@');
  let path = at === -1 ? value : value.slice(0, at);
  let reference = at === -1 ? undefined : value.slice(at + 1);
  if (reference === undefined) {
    const colon = path.lastIndexOf(':');
    if (colon > path.lastIndexOf('/')) {
      reference = path.slice(colon + 1);
      path = path.slice(0, colon);
    }
  }
  const parts = path.split('/');
  if (parts.length > 1 && /[.:]|^localhost$/.test(parts[0]!)) parts.shift();
  return { repository: parts.join('/'), reference };
}
