import { RegistryError } from '../errors.js';
import { readSmall } from '../lib/streams.js';
import type { BrowseStore, ProjectFilter, RepositorySort, RepositorySummary, UsageCounts } from '../metadata/browse.js';
import type { ManifestStore } from '../metadata/manifests.js';
import type { RepositoryStore } from '../metadata/repositories.js';
import { manifestKind, MediaType } from '../oci/media-types.js';
import { projectOf } from '../oci/names.js';
import type { Registry } from './registry.js';

export type { ProjectFilter, RepositorySort, RepositorySummary, UsageCounts };

export interface PlatformView {
  os: string;
  architecture: string;
  variant?: string;
}

export interface TagView {
  name: string;
  digest: string;
  mediaType: string;
  artifactType: string | null;
  /** Compressed size: config + layers (summed over an index's children). */
  size: number;
  platforms: PlatformView[];
  pushedAt: number;
  lastPulledAt: number | null;
  pullCount: number;
}

export interface LayerView {
  digest: string;
  mediaType: string;
  size: number;
  /** The history command that made this layer, when the config says. */
  createdBy?: string;
}

export interface HistoryView {
  created?: string;
  createdBy?: string;
  comment?: string;
  emptyLayer: boolean;
}

export interface ConfigView {
  created?: string;
  os?: string;
  architecture?: string;
  variant?: string;
  author?: string;
  user?: string;
  workingDir?: string;
  env: string[];
  entrypoint: string[];
  cmd: string[];
  labels: Record<string, string>;
  exposedPorts: string[];
  volumes: string[];
  history: HistoryView[];
}

export interface ChildManifestView {
  digest: string;
  mediaType: string;
  size: number;
  platform?: PlatformView & { osVersion?: string };
  annotations?: Record<string, string>;
}

export interface ReferrerGroup {
  artifactType: string;
  items: Array<{ digest: string; mediaType: string; size: number; annotations?: Record<string, string> }>;
}

export interface ImageView {
  repository: string;
  digest: string;
  mediaType: string;
  kind: 'image' | 'index' | 'other';
  manifestSize: number;
  /** Compressed size: config + layers (for an index, its children's, as far as known). */
  size: number;
  artifactType: string | null;
  annotations: Record<string, string>;
  subject: string | null;
  tags: string[];
  pushedAt: number;
  lastPulledAt: number | null;
  pullCount: number;
  layers: LayerView[];
  config: ConfigView | null;
  configMediaType: string | null;
  manifests: ChildManifestView[];
  platforms: PlatformView[];
  referrers: ReferrerGroup[];
}

export interface ProjectUsage {
  name: string;
  repositories: number;
  /** Distinct blob bytes the project's repositories may serve. */
  size: number;
}

/** What the console reads about repositories, tags and images. */
export interface Browser {
  repositories(query: { filter: ProjectFilter; search?: string; sort: RepositorySort; descending: boolean; limit: number; offset: number }): Promise<{ items: RepositorySummary[]; total: number }>;
  tags(repository: string, options: { search?: string; limit: number; offset: number }): Promise<{ items: TagView[]; total: number }>;
  image(repository: string, reference: string): Promise<ImageView>;
  usage(filter: ProjectFilter): Promise<{ projects: ProjectUsage[]; counts: UsageCounts }>;
}

export interface BrowserDeps {
  /** The undecorated registry: the console's reads must not count as pulls. */
  registry: Registry;
  browse: BrowseStore;
  manifests: ManifestStore;
  repositories: RepositoryStore;
  /** Writes the pulls counted in memory so far, so the figures read next include them. */
  settlePulls?: () => Promise<void>;
}

const CONFIG_MAX_BYTES = 4 << 20;
const tooLarge = () => new RegistryError('UNSUPPORTED', 'image config is too large to show');
const IMAGE_CONFIGS = new Set<string>([MediaType.ociConfig, MediaType.dockerConfig]);
const nonImage = (artifactType: string | null) => (artifactType && !IMAGE_CONFIGS.has(artifactType) ? artifactType : null);

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const stringMap = (v: unknown): Record<string, string> =>
  isObject(v) ? Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string')) : {};

function platformOf(v: unknown): (PlatformView & { osVersion?: string }) | undefined {
  if (!isObject(v)) return undefined;
  const os = str(v.os);
  const architecture = str(v.architecture);
  if (!os || !architecture) return undefined;
  const variant = str(v.variant);
  const osVersion = str(v['os.version']);
  return { os, architecture, ...(variant ? { variant } : {}), ...(osVersion ? { osVersion } : {}) };
}

/** Attestation manifests in an index carry `unknown/unknown`; they are not platforms. */
const isRealPlatform = (p: PlatformView) => p.os !== 'unknown' && p.architecture !== 'unknown';

function parseJson(bytes: Buffer): Json {
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    return isObject(value) ? value : {};
  } catch {
    return {};
  }
}

function configView(raw: Json): ConfigView {
  const c = isObject(raw.config) ? raw.config : {};
  const history = (Array.isArray(raw.history) ? raw.history : []).filter(isObject).map((h) => {
    const created = str(h.created);
    const createdBy = str(h.created_by);
    const comment = str(h.comment);
    return { ...(created ? { created } : {}), ...(createdBy ? { createdBy } : {}), ...(comment ? { comment } : {}), emptyLayer: h.empty_layer === true };
  });
  const optional = (key: string, value: string | undefined) => (value ? { [key]: value } : {});
  return {
    ...optional('created', str(raw.created)),
    ...optional('os', str(raw.os)),
    ...optional('architecture', str(raw.architecture)),
    ...optional('variant', str(raw.variant)),
    ...optional('author', str(raw.author)),
    ...optional('user', str(c.User)),
    ...optional('workingDir', str(c.WorkingDir)),
    env: strings(c.Env),
    entrypoint: strings(c.Entrypoint),
    cmd: strings(c.Cmd),
    labels: stringMap(c.Labels),
    exposedPorts: isObject(c.ExposedPorts) ? Object.keys(c.ExposedPorts) : [],
    volumes: isObject(c.Volumes) ? Object.keys(c.Volumes) : [],
    history,
  };
}

export function createBrowser(deps: BrowserDeps): Browser {
  const { registry, browse } = deps;

  async function readConfig(repository: string, digest: string): Promise<Json> {
    const blob = await registry.readBlob(repository, digest, { allowRedirect: false });
    if (blob.size > CONFIG_MAX_BYTES) throw tooLarge();
    if (blob.stream) return parseJson(await readSmall(blob.stream, CONFIG_MAX_BYTES, tooLarge));
    if (!blob.pipeTo) return {};
    // The fast path hands out reused buffers: copy each chunk before the next one overwrites it.
    const chunks: Buffer[] = [];
    let size = 0;
    await blob.pipeTo(async (chunk) => {
      size += chunk.length;
      if (size > CONFIG_MAX_BYTES) throw tooLarge();
      chunks.push(Buffer.from(chunk));
    });
    return parseJson(Buffer.concat(chunks, size));
  }

  /** Works a manifest's platforms out from its body (index) or its config (image). */
  async function computePlatforms(repository: string, digest: string): Promise<PlatformView[]> {
    const manifest = await registry.getManifest(repository, digest);
    const body = parseJson(manifest.bytes);
    if (manifestKind(manifest.mediaType) === 'index') {
      const list = Array.isArray(body.manifests) ? body.manifests : [];
      return list.filter(isObject).map((m) => platformOf(m.platform)).filter((p): p is PlatformView => p !== undefined && isRealPlatform(p))
        .map(({ os, architecture, variant }) => ({ os, architecture, ...(variant ? { variant } : {}) }));
    }
    const config = isObject(body.config) ? body.config : undefined;
    const configDigest = config ? str(config.digest) : undefined;
    if (!config || !configDigest || !IMAGE_CONFIGS.has(str(config.mediaType) ?? '')) return [];
    const platform = platformOf(await readConfig(repository, configDigest));
    return platform ? [{ os: platform.os, architecture: platform.architecture, ...(platform.variant ? { variant: platform.variant } : {}) }] : [];
  }

  /** Stored platforms, or computed once and stored (a manifest never changes). */
  async function platformsOf(repository: string, digest: string, stored: string | null): Promise<PlatformView[]> {
    if (stored !== null) {
      try {
        return JSON.parse(stored) as PlatformView[];
      } catch {
        // fall through and recompute
      }
    }
    try {
      const platforms = await computePlatforms(repository, digest);
      await browse.setPlatforms(repository, digest, JSON.stringify(platforms));
      return platforms;
    } catch {
      // A manifest whose bytes or config cannot be read shows no platforms rather than failing the list.
      return [];
    }
  }

  return {
    repositories: (query) => browse.repositories(query),

    async tags(repository, options) {
      await deps.settlePulls?.();
      const page = await browse.tags(repository, options);
      if (page.total === 0 && options.offset === 0 && !options.search) {
        if (!(await deps.repositories.exists(repository))) throw new RegistryError('NAME_UNKNOWN', undefined, { detail: { name: repository } });
      }
      const items = await Promise.all(
        page.items.map(async (t) => ({
          name: t.name,
          digest: t.digest,
          mediaType: t.mediaType,
          artifactType: nonImage(t.artifactType),
          size: t.contentSize,
          platforms: await platformsOf(repository, t.digest, t.platforms),
          pushedAt: t.updatedAt,
          lastPulledAt: t.lastPulledAt,
          pullCount: t.pullCount,
        })),
      );
      return { items, total: page.total };
    },

    async image(repository, reference) {
      const manifest = await registry.getManifest(repository, reference);
      const record = await deps.manifests.get(repository, manifest.digest);
      await deps.settlePulls?.();
      const extras = await browse.manifestExtras(repository, manifest.digest);
      const body = parseJson(manifest.bytes);
      const kind = manifestKind(manifest.mediaType) ?? 'other';
      const configDescriptor = isObject(body.config) ? body.config : undefined;
      const configDigest = configDescriptor ? str(configDescriptor.digest) : undefined;
      const configMediaType = configDescriptor ? str(configDescriptor.mediaType) ?? null : null;
      const rawLayers = (Array.isArray(body.layers) ? body.layers : []).filter(isObject);
      const config = configDigest && IMAGE_CONFIGS.has(configMediaType ?? '') ? configView(await readConfig(repository, configDigest)) : null;

      // History entries that made a layer line up, in order, with the manifest's layers.
      const layerHistory = (config?.history ?? []).filter((h) => !h.emptyLayer);
      const layers: LayerView[] = rawLayers.map((l, i) => {
        const createdBy = layerHistory[i]?.createdBy;
        return { digest: str(l.digest) ?? '', mediaType: str(l.mediaType) ?? '', size: Number(l.size) || 0, ...(createdBy ? { createdBy } : {}) };
      });
      const manifests: ChildManifestView[] = (Array.isArray(body.manifests) ? body.manifests : []).filter(isObject).map((m) => {
        const platform = platformOf(m.platform);
        const annotations = stringMap(m.annotations);
        return {
          digest: str(m.digest) ?? '',
          mediaType: str(m.mediaType) ?? '',
          size: Number(m.size) || 0,
          ...(platform ? { platform } : {}),
          ...(Object.keys(annotations).length ? { annotations } : {}),
        };
      });

      let size = layers.reduce((sum, l) => sum + l.size, 0) + (configDescriptor ? Number(configDescriptor.size) || 0 : 0);
      if (kind === 'index') {
        size = 0;
        for (const child of manifests) {
          const platforms = child.platform ? [child.platform] : [];
          if (platforms.length && !isRealPlatform(platforms[0]!)) continue;
          try {
            const childBody = parseJson((await registry.getManifest(repository, child.digest)).bytes);
            const parts = [childBody.config, ...(Array.isArray(childBody.layers) ? childBody.layers : [])].filter(isObject);
            size += parts.reduce((sum, p) => sum + (Number(p.size) || 0), 0);
          } catch {
            // a child that is missing contributes nothing
          }
        }
      }

      const referrers = await registry.listReferrers(repository, manifest.digest);
      const groups = new Map<string, ReferrerGroup>();
      for (const r of referrers) {
        const type = r.artifactType ?? r.mediaType;
        const group = groups.get(type) ?? { artifactType: type, items: [] };
        group.items.push({ digest: r.digest, mediaType: r.mediaType, size: r.size, ...(r.annotations ? { annotations: r.annotations } : {}) });
        groups.set(type, group);
      }

      const platforms = kind === 'index'
        ? manifests.map((m) => m.platform).filter((p): p is PlatformView => p !== undefined && isRealPlatform(p))
        : config?.os && config.architecture ? [{ os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) }] : [];

      return {
        repository,
        digest: manifest.digest,
        mediaType: manifest.mediaType,
        kind,
        manifestSize: manifest.size,
        size,
        // The metadata keeps a plain image's config type as its artifact type (for referrers); not worth showing.
        artifactType: nonImage(record?.artifactType ?? str(body.artifactType) ?? null),
        annotations: stringMap(body.annotations),
        subject: record?.subject ?? null,
        tags: await browse.tagsOf(repository, manifest.digest),
        pushedAt: record?.createdAt ?? 0,
        lastPulledAt: extras?.lastPulledAt ?? null,
        pullCount: extras?.pullCount ?? 0,
        layers,
        config,
        configMediaType,
        manifests,
        platforms,
        referrers: [...groups.values()],
      };
    },

    async usage(filter) {
      const names = await browse.repositoryNames();
      const byProject = new Map<string, number>();
      for (const name of names) {
        const project = projectOf(name);
        if ('projects' in filter && !filter.projects.includes(project)) continue;
        byProject.set(project, (byProject.get(project) ?? 0) + 1);
      }
      const projects: ProjectUsage[] = [];
      for (const [name, repositories] of byProject) projects.push({ name, repositories, size: await browse.projectBytes(name) });
      projects.sort((a, b) => b.size - a.size || a.name.localeCompare(b.name));
      return { projects, counts: await browse.counts() };
    },
  };
}
