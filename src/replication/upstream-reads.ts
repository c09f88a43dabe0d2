import { readSmall } from '../lib/streams.js';
import { FULL_ACCEPT } from '../mirror/manifest-cache.js';
import type { MirrorRoute } from '../mirror/routing.js';
import { UpstreamError } from '../mirror/upstream-error.js';
import { digestOf } from '../oci/digest.js';

const PAGE = 1_000;
const PAGE_LIMIT_BYTES = 16 << 20;
/** A repository with more tags than this is refused: a rule should name what it keeps. */
const MAX_TAGS = 100_000;

/** Every tag of the route's upstream repository, following `Link` pages. */
export async function upstreamTags(route: MirrorRoute): Promise<string[]> {
  const { client } = route.upstream;
  const repository = route.upstreamRepository;
  const tags: string[] = [];
  let path: string | undefined = `/v2/${repository}/tags/list?n=${PAGE}`;
  while (path !== undefined) {
    const response = await client.request({ method: 'GET', path, repository });
    if (response.status === 404) {
      await response.discard();
      throw new UpstreamError('not-found', client.name, `repository ${repository} does not exist at upstream ${client.name}`);
    }
    const body = await readSmall(response.body, PAGE_LIMIT_BYTES, () => new UpstreamError('invalid', client.name, `upstream ${client.name} sent a tag list page over ${PAGE_LIMIT_BYTES} bytes`));
    let page: { tags?: unknown };
    try {
      page = JSON.parse(body.toString('utf8')) as { tags?: unknown };
    } catch {
      throw new UpstreamError('invalid', client.name, `upstream ${client.name} sent an invalid tag list for ${repository}`);
    }
    const items = Array.isArray(page.tags) ? page.tags.filter((t): t is string => typeof t === 'string') : [];
    tags.push(...items);
    if (tags.length > MAX_TAGS) throw new UpstreamError('invalid', client.name, `${repository} at upstream ${client.name} has more than ${MAX_TAGS} tags`);
    const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(String(response.headers.link ?? ''))?.[1];
    path = next !== undefined && items.length > 0 ? next : undefined;
  }
  return tags;
}

/** The digest an upstream tag points at now: a HEAD (not counted against Docker Hub's pull limit), else a GET. */
export async function upstreamTagDigest(route: MirrorRoute, tag: string, manifestMaxBytes: number): Promise<string> {
  const { client } = route.upstream;
  const repository = route.upstreamRepository;
  const path = `/v2/${repository}/manifests/${tag}`;
  const notFound = () => new UpstreamError('not-found', client.name, `tag ${tag} of ${repository} does not exist at upstream ${client.name}`);
  const head = await client.request({ method: 'HEAD', path, repository, headers: { accept: FULL_ACCEPT } });
  await head.discard();
  if (head.status === 404) throw notFound();
  const claimed = head.headers['docker-content-digest'];
  if (typeof claimed === 'string' && claimed.startsWith('sha256:')) return claimed;
  // The upstream does not say: hash what it serves.
  const response = await client.request({ method: 'GET', path, repository, headers: { accept: FULL_ACCEPT } });
  if (response.status === 404) {
    await response.discard();
    throw notFound();
  }
  const bytes = await readSmall(response.body, manifestMaxBytes, () => new UpstreamError('invalid', client.name, `upstream ${client.name} sent a manifest over ${manifestMaxBytes} bytes`));
  return digestOf(bytes, 'sha256').value;
}
