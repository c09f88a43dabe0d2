import { RegistryError } from '../errors.js';
import { parseRepositoryName, projectOf } from '../oci/names.js';
import type { UpstreamClient } from './upstream-client.js';

export interface Upstream {
  /** Proxy project name: `/v2/<name>/…` reaches this upstream. */
  name: string;
  /** Registry host it stands for (`docker.io`), matched against `?ns=`. */
  registry: string;
  ttlSeconds: number;
  default: boolean;
  client: UpstreamClient;
}

/** How one request for a mirror repository reaches its upstream. */
export interface MirrorRoute {
  upstream: Upstream;
  /** The repository name at the upstream (`library/alpine`). */
  upstreamRepository: string;
  /** The local mirror repository that caches it (`hub/library/alpine`). */
  cacheRepository: string;
}

/** Docker Hub's official images live under `library/`; clients add it, proxy-project users may not. */
function upstreamName(upstream: Upstream, name: string): string {
  return upstream.registry === 'docker.io' && !name.includes('/') ? `library/${name}` : name;
}

export function routeTo(upstream: Upstream, name: string): MirrorRoute {
  const upstreamRepository = upstreamName(upstream, name);
  const cacheRepository = parseRepositoryName(`${upstream.name}/${upstreamRepository}`);
  return { upstream, upstreamRepository, cacheRepository };
}

/**
 * Names → upstreams. A name whose first component is an upstream's name is a proxy-project name
 * (`hub/library/alpine`); any other name is private unless the default upstream takes it
 * (dockerd's registry-mirrors), which the mirror decides with a metadata lookup.
 */
export class MirrorRouter {
  private readonly byName = new Map<string, Upstream>();
  private readonly byRegistry = new Map<string, Upstream>();
  readonly defaultUpstream: Upstream | undefined;

  constructor(readonly upstreams: Upstream[]) {
    for (const upstream of upstreams) {
      this.byName.set(upstream.name, upstream);
      if (!this.byRegistry.has(upstream.registry.toLowerCase())) this.byRegistry.set(upstream.registry.toLowerCase(), upstream);
    }
    this.defaultUpstream = upstreams.find((u) => u.default);
  }

  /** The proxy-project route of `name`, or undefined when its project is not an upstream. */
  proxyRoute(name: string): MirrorRoute | undefined {
    const project = projectOf(name);
    const upstream = this.byName.get(project);
    if (!upstream) return undefined;
    if (project === name) {
      throw new RegistryError('NAME_UNKNOWN', `${name} is a mirror of ${upstream.registry}; pull ${name}/<repository>`, { detail: { name } });
    }
    return routeTo(upstream, name.slice(project.length + 1));
  }

  /** Whether writes to `name` must be refused (it belongs to a proxy project). */
  isMirrorName(name: string): boolean {
    return this.byName.has(projectOf(name));
  }

  /**
   * containerd's `?ns=<registry>`: the repository that serves `name` of that registry, or
   * undefined when no upstream stands for it (the request is then served as a local one).
   */
  resolveNamespace(ns: string, name: string): string | undefined {
    const upstream = this.byRegistry.get(ns.toLowerCase());
    if (!upstream) return undefined;
    return routeTo(upstream, name).cacheRepository;
  }
}
