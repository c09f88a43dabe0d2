import { RegistryError } from '../../errors.js';
import { parseRepositoryName } from '../../oci/names.js';

export type V2Route =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'tags'; name: string }
  | { kind: 'manifest'; name: string; reference: string }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; id: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'referrers'; name: string; digest: string };

// Order matters: `blobs/uploads/` must win over `blobs/<digest>`. The name part is matched
// greedily and validated afterwards, on the raw (still percent-encoded) path: an encoded dot or
// slash can never pass the name grammar, so it can never reach storage or SQL.
const patterns: Array<[RegExp, (m: RegExpExecArray) => V2Route]> = [
  [/^(.+)\/tags\/list$/, (m) => ({ kind: 'tags', name: m[1]! })],
  [/^(.+)\/manifests\/([^/]+)$/, (m) => ({ kind: 'manifest', name: m[1]!, reference: decode(m[2]!) })],
  [/^(.+)\/blobs\/uploads\/?$/, (m) => ({ kind: 'uploads', name: m[1]! })],
  [/^(.+)\/blobs\/uploads\/([^/]+)$/, (m) => ({ kind: 'upload', name: m[1]!, id: decode(m[2]!) })],
  [/^(.+)\/blobs\/([^/]+)$/, (m) => ({ kind: 'blob', name: m[1]!, digest: decode(m[2]!) })],
  [/^(.+)\/referrers\/([^/]+)$/, (m) => ({ kind: 'referrers', name: m[1]!, digest: decode(m[2]!) })],
];

/** Parses the path of a `/v2/...` request; null when it names no registry resource. */
export function matchV2Route(path: string): V2Route | null {
  if (path === '/v2' || path === '/v2/') return { kind: 'base' };
  if (!path.startsWith('/v2/')) return null;
  const rest = path.slice(4);
  if (rest === '_catalog') return { kind: 'catalog' };
  for (const [pattern, build] of patterns) {
    const match = pattern.exec(rest);
    if (!match) continue;
    const route = build(match);
    if ('name' in route) parseRepositoryName(route.name);
    return route;
  }
  return null;
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new RegistryError('INVALID_REQUEST', 'malformed percent-encoding in path');
  }
}
