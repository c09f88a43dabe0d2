import picomatch from 'picomatch';
import { RegistryError } from '../errors.js';
import { isValidRepositoryName } from '../oci/names.js';
import { tagMatcher, type TagFilter } from './tag-filter.js';

/** One upstream repository a pull rule keeps, and which of its tags. */
export interface RepositorySelector {
  name: string;
  /** null: every tag. */
  tags: TagFilter | null;
}

/** Keep tags of upstream repositories in the mirror cache, pinned. */
export interface PullSpec {
  /** The mirror upstream's name (`mirror.upstreams[].name`). */
  upstream: string;
  repositories: RepositorySelector[];
  /** `os/architecture[/variant]` of the index children to keep; empty: every platform. */
  platforms: string[];
}

export type PushTrigger = 'push' | 'promotion';
export const pushTriggers: readonly PushTrigger[] = ['push', 'promotion'];

export interface PushTarget {
  /** The target registry's API URL (`https://registry.example.com`). */
  url: string;
  /** Replaces the project in target names (`release/app` → `<namespace>/app`); null keeps names. */
  namespace: string | null;
  /** `chunked` (resumable, the default) or `monolithic` (one PUT a blob). */
  upload: 'chunked' | 'monolithic';
  /** Bytes per PATCH of a chunked upload. */
  chunkBytes: number;
}

/** Copy a local project's images to another registry. */
export interface PushSpec {
  project: string;
  /** Glob over repository names inside the project (`app`, `tools/*`); null: every repository. */
  repositories: string | null;
  /** null: every tag. */
  tags: TagFilter | null;
  target: PushTarget;
  /** Copy as soon as an image is pushed to, or promoted into, the project. */
  triggers: PushTrigger[];
  /** Copy the images' referrers (signatures, SBOMs, attestations) too. */
  referrers: boolean;
}

export type RuleDefinition = { kind: 'pull'; pull: PullSpec } | { kind: 'push'; push: PushSpec };

/** What the stored `spec` column holds (no secrets). */
export type StoredSpec = RuleDefinition & { bandwidthBytesPerSecond: number | null };

export const DEFAULT_CHUNK_BYTES = 16 << 20;
export const MIN_INTERVAL_SECONDS = 5;

const PLATFORM = /^[a-z0-9_.-]+\/[a-z0-9_.-]+(?:\/[a-z0-9_.-]+)?$/;

const invalid = (message: string, detail?: unknown) => new RegistryError('INVALID_REQUEST', message, detail === undefined ? {} : { detail });

/** Checks what JSON schemas cannot: names, patterns, URLs. `upstreams` are the configured mirror upstreams. */
export function validateDefinition(definition: RuleDefinition, upstreams: ReadonlySet<string>): void {
  if (definition.kind === 'pull') {
    const { pull } = definition;
    if (!upstreams.has(pull.upstream)) {
      const known = [...upstreams].join(', ') || 'none configured';
      throw invalid(`pull rules fetch from a mirror upstream; "${pull.upstream}" is not one (mirror.upstreams: ${known})`, { upstream: pull.upstream });
    }
    if (pull.repositories.length === 0) throw invalid('a pull rule names at least one repository');
    const seen = new Set<string>();
    for (const repository of pull.repositories) {
      if (!isValidRepositoryName(repository.name)) throw invalid(`"${repository.name}" is not a repository name`, { name: repository.name });
      if (seen.has(repository.name)) throw invalid(`repository "${repository.name}" is named twice`, { name: repository.name });
      seen.add(repository.name);
      if (repository.tags) tagMatcher(repository.tags);
    }
    for (const platform of pull.platforms) {
      if (!PLATFORM.test(platform)) throw invalid(`"${platform}" is not a platform (os/architecture[/variant], e.g. linux/arm64/v8)`, { platform });
    }
    return;
  }
  const { push } = definition;
  if (!isValidRepositoryName(push.project) || push.project.includes('/')) throw invalid(`"${push.project}" is not a project name`, { project: push.project });
  if (push.repositories !== null) {
    try {
      picomatch(push.repositories);
    } catch (error) {
      throw invalid(`invalid repository glob "${push.repositories}": ${(error as Error).message}`);
    }
  }
  if (push.tags) tagMatcher(push.tags);
  let url: URL;
  try {
    url = new URL(push.target.url);
  } catch {
    throw invalid(`"${push.target.url}" is not a URL`, { url: push.target.url });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid('the target URL must be http or https', { url: push.target.url });
  if (url.username || url.password) throw invalid('give the target credentials as credentials, not in the URL');
  if (push.target.namespace !== null && !isValidRepositoryName(push.target.namespace)) {
    throw invalid(`"${push.target.namespace}" is not a repository namespace`, { namespace: push.target.namespace });
  }
}

/** Whether a push rule takes `repository` (a full name, inside its project). */
export function pushSelects(push: PushSpec, repository: string): boolean {
  if (!repository.startsWith(`${push.project}/`)) return false;
  return push.repositories === null || picomatch(push.repositories, { dot: true })(repository.slice(push.project.length + 1));
}

/** A local repository's name at the push target. */
export function targetRepository(push: PushSpec, repository: string): string {
  return push.target.namespace === null ? repository : `${push.target.namespace}/${repository.slice(push.project.length + 1)}`;
}

/** Whether an index child's platform is one the pull rule keeps. */
export function platformSelected(platforms: readonly string[], platform: { os?: string; architecture?: string; variant?: string } | undefined): boolean {
  if (platforms.length === 0) return true;
  if (!platform?.os || !platform.architecture) return false;
  const base = `${platform.os}/${platform.architecture}`;
  return platforms.some((p) => p === base || (platform.variant !== undefined && p === `${base}/${platform.variant}`));
}
