/** Manifest media types the registry stores and serves. */
export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
} as const;

export type ManifestKind = 'image' | 'index';

const kinds: Record<string, ManifestKind> = {
  [MediaType.ociManifest]: 'image',
  [MediaType.dockerManifest]: 'image',
  [MediaType.ociIndex]: 'index',
  [MediaType.dockerManifestList]: 'index',
};

export const manifestMediaTypes = Object.keys(kinds);

export function manifestKind(mediaType: string): ManifestKind | undefined {
  return kinds[mediaType];
}

export function isSchema1(mediaType: string): boolean {
  return mediaType === MediaType.dockerSchema1 || mediaType === MediaType.dockerSchema1Signed || mediaType === 'application/json';
}

/** `Content-Type: a/b; charset=x` → `a/b`, lower-cased. */
export function bareMediaType(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined;
  const bare = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return bare.length > 0 ? bare : undefined;
}

/** Media types an `Accept` header allows; several header lines arrive joined by ", ". */
export function parseAccept(accept: string | string[] | undefined): Set<string> {
  const values = Array.isArray(accept) ? accept.join(',') : (accept ?? '');
  const types = new Set<string>();
  for (const part of values.split(',')) {
    const bare = bareMediaType(part);
    if (bare) types.add(bare);
  }
  return types;
}

/** Whether a client's `Accept` admits `mediaType`. No header, or a wildcard, admits anything. */
export function acceptsMediaType(accepted: Set<string>, mediaType: string): boolean {
  if (accepted.size === 0 || accepted.has('*/*') || accepted.has('application/*')) return true;
  return accepted.has(mediaType);
}
