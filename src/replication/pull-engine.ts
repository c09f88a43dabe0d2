import { mapLimit } from '../lib/map-limit.js';
import { throttled } from '../lib/token-bucket.js';
import type { MetadataStore } from '../metadata/store.js';
import type { MirrorRoute } from '../mirror/routing.js';
import type { MirrorSync } from '../mirror/sync.js';
import { RegistryError } from '../errors.js';
import { mustExist, parseManifest, type Descriptor } from '../oci/manifest.js';
import type { CopyContext, ImageOutcome } from './copy-context.js';
import type { PlannedImage, RuleEngine } from './rule.js';
import { platformSelected, type PullSpec, type RepositorySelector } from './rule-spec.js';
import { tagMatcher } from './tag-filter.js';
import { upstreamTagDigest, upstreamTags } from './upstream-reads.js';

export interface PullEngineDeps {
  sync: MirrorSync;
  metadata: MetadataStore;
  manifestMaxBytes: number;
  /** Blobs downloaded at a time per image. */
  blobConcurrency: number;
}

const describePlatform = (d: Descriptor) => (d.platform ? [d.platform.os, d.platform.architecture, d.platform.variant].filter(Boolean).join('/') : 'unknown');

/**
 * Pull rules: keep tags of upstream repositories in the mirror cache, pinned. A run lists each
 * repository's tags upstream and keeps those its filter takes; each tag is one image: its digest
 * is asked for with a HEAD and compared with the cached tag, and only what the cache lacks is
 * fetched — through the mirror's own cache path, so pulls and rules never download a blob twice.
 * Everything a tag holds (the index, the kept children, their blobs) is pinned before it is
 * fetched, so eviction never takes it; a tag that no longer matches or exists is unpinned.
 */
export function pullEngine(deps: PullEngineDeps): RuleEngine {
  const { sync, metadata } = deps;
  const pins = metadata.replicationPins;

  async function keepTag(ruleId: string, spec: PullSpec, route: MirrorRoute, tag: string, context: CopyContext): Promise<ImageOutcome> {
    const digest = await upstreamTagDigest(route, tag, deps.manifestMaxBytes);
    const repository = route.cacheRepository;
    await pins.pin(ruleId, repository, tag, [digest]);
    const kept = new Set([digest]);
    let changed = false;

    const manifest = async (wanted: string) => {
      const { content, fetched } = await sync.manifest(route, wanted);
      if (fetched) context.progress.bytes(content.size);
      changed ||= fetched;
      return parseManifest(content.bytes, content.mediaType);
    };

    const top = await manifest(digest);
    const images = [top];
    if (top.kind === 'index') {
      const children = top.manifests.filter((d) => platformSelected(spec.platforms, d.platform));
      if (children.length === 0) {
        const has = top.manifests.map(describePlatform).join(', ') || 'none';
        throw new RegistryError('NOT_FOUND', `no platform of ${route.upstreamRepository}:${tag} is one the rule keeps (${spec.platforms.join(', ')}); it has ${has}`);
      }
      await pins.pin(ruleId, repository, tag, children.map((c) => c.digest));
      for (const child of children) {
        context.signal.throwIfAborted();
        kept.add(child.digest);
        images.push(await manifest(child.digest));
      }
    }
    const blobs = [...new Map(images.flatMap((m) => m.blobs.filter(mustExist)).map((b) => [b.digest, b])).values()];
    await pins.pin(ruleId, repository, tag, blobs.map((b) => b.digest));
    const wrap = (source: AsyncIterable<Buffer>) => throttled(source, context.bucket, (n) => context.progress.bytes(n), context.signal);
    await mapLimit(blobs, deps.blobConcurrency, async (blob) => {
      context.signal.throwIfAborted();
      const { fetched } = await sync.blob(route, blob.digest, wrap);
      kept.add(blob.digest);
      context.progress.blob(fetched);
      changed ||= fetched;
    });
    if ((await sync.cachedTag(route, tag)) !== digest) {
      await sync.tag(route, tag, digest);
      changed = true;
    }
    await metadata.transaction((tx) => tx.replicationPins.replace(ruleId, repository, tag, [...kept]));
    return { status: changed ? 'done' : 'skipped', digest };
  }

  return {
    async open(rule, context) {
      if (rule.definition.kind !== 'pull') throw new Error(`rule ${rule.name} is not a pull rule`);
      const spec = rule.definition.pull;
      const selected = new Map<string, { selector: RepositorySelector; route: MirrorRoute }>();
      for (const selector of spec.repositories) {
        const route = sync.route(spec.upstream, selector.name);
        if (!route) throw new RegistryError('INVALID_REQUEST', `rule ${rule.name} fetches from upstream ${spec.upstream}, which is not configured (mirror.upstreams)`);
        selected.set(selector.name, { selector, route });
      }
      return {
        async plan() {
          await pins.keepRepositories(rule.id, [...selected.values()].map((s) => s.route.cacheRepository));
          const images: PlannedImage[] = [];
          for (const { selector, route } of selected.values()) {
            let tags: string[];
            try {
              tags = await upstreamTags(route);
            } catch (error) {
              images.push({ repository: selector.name, reference: '*', error: (error as Error).message });
              continue;
            }
            const matches = selector.tags ? tagMatcher(selector.tags) : () => true;
            const taken = tags.filter(matches).sort();
            // Tags that stopped matching (or vanished upstream) are no longer kept.
            await pins.keepTags(rule.id, route.cacheRepository, taken);
            for (const tag of taken) images.push({ repository: selector.name, reference: tag });
          }
          return images;
        },
        async copy(image) {
          const entry = selected.get(image.repository);
          if (!entry) throw new RegistryError('NOT_FOUND', `rule ${rule.name} no longer names ${image.repository}`);
          return keepTag(rule.id, spec, entry.route, image.reference, context);
        },
        close() {},
      };
    },
  };
}
