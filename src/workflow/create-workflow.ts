import { RegistryError } from '../errors.js';
import type { EventPublisher } from '../events/publisher.js';
import { looksLikeDigest, parseDigest } from '../oci/digest.js';
import { parseTag } from '../oci/names.js';
import type { MetadataStore } from '../metadata/store.js';
import type { RegistryHooks } from '../registry/hooks.js';
import { imageHistory, type HistoryEntry } from './history.js';
import { lineageQueries, type LineageQueries } from './lineage-query.js';
import { workflowHooks } from './hooks.js';
import { promotions, type Promotions } from './promotion.js';
import { stageRules, type StageRules } from './stage-rules.js';

export interface Workflow {
  /** For the registry's writes (createRegistry's `hooks`). */
  hooks: RegistryHooks;
  promotions: Promotions;
  rules: StageRules;
  history(digest: string, canSee: (project: string) => boolean): Promise<HistoryEntry[]>;
  /** What an image is built on, what is built on it, whether it is stale. */
  lineage: LineageQueries['lineage'];
  /** The digest a tag or digest names in `repository` (MANIFEST_UNKNOWN when there is none). */
  resolve(repository: string, reference: string): Promise<string>;
}

export interface WorkflowDeps {
  metadata: MetadataStore;
  publisher: EventPublisher;
  now: () => number;
  roleRanks: Readonly<Record<string, number>>;
  /** Wraps the hooks, for the registry's writes and promotions alike (replication's triggers). */
  extendHooks?: (hooks: RegistryHooks) => RegistryHooks;
}

export function createWorkflow(deps: WorkflowDeps): Workflow {
  const base = workflowHooks({ publisher: deps.publisher, now: deps.now });
  const hooks = deps.extendHooks ? deps.extendHooks(base) : base;
  return {
    hooks,
    promotions: promotions({ ...deps, hooks }),
    rules: stageRules({ metadata: deps.metadata, now: deps.now, roles: Object.keys(deps.roleRanks) }),
    history: (digest, canSee) => imageHistory(deps.metadata, digest, canSee),
    lineage: lineageQueries(deps.metadata).lineage,
    async resolve(repository, reference) {
      const digest = looksLikeDigest(reference) ? parseDigest(reference).value : await deps.metadata.tags.resolve(repository, parseTag(reference));
      if (digest && (await deps.metadata.manifests.get(repository, digest))) return digest;
      throw new RegistryError('MANIFEST_UNKNOWN', `${repository}:${reference} does not exist`, { detail: { name: repository, reference } });
    },
  };
}
