import { RegistryError } from '../errors.js';
import type { EventPublisher } from '../events/publisher.js';
import type { ImageRef } from '../events/types.js';
import { timeOrderedId } from '../lib/ids.js';
import type { LineageRecord } from '../metadata/lineage.js';
import type { MetadataStore } from '../metadata/store.js';
import { projectOf } from '../oci/names.js';
import type { DeleteTarget, RegistryHooks, WriteContext } from '../registry/hooks.js';
import { dependentsOf, indexImage } from './lineage-index.js';
import { immutableDenied, immutableRuleFor } from './tag-rules.js';

export interface WorkflowHooksDeps {
  publisher: EventPublisher;
  now: () => number;
}

/**
 * The delivery flow inside registry writes: immutable tags refuse to move or go, every tag move
 * is recorded in the tag history, pushed images are indexed for lineage, and the events (push,
 * delete, tag.moved, base.updated) are written to the outbox in the same transaction.
 */
export function workflowHooks(deps: WorkflowHooksDeps): RegistryHooks {
  const { publisher } = deps;
  const eventContext = (context: WriteContext) => ({ actor: context.actor, ...(context.request ? { request: context.request } : {}) });

  return {
    async manifestStored(tx, stored, context) {
      await indexImage(tx, stored.repository, stored.digest, stored.parsed, deps.now());
      await publisher.publish(tx, {
        type: 'push',
        project: projectOf(stored.repository),
        ...eventContext(context),
        data: { repository: stored.repository, digest: stored.digest, mediaType: stored.mediaType, size: stored.size, tag: stored.tag },
      });
    },

    async setTag(tx, repository, tag, digest, context) {
      const now = deps.now();
      const previous = await tx.tags.resolve(repository, tag);
      if (previous === digest) return previous;
      const rule = await immutableRuleFor(tx.projectRules, repository, tag);
      if (rule !== undefined) {
        if (previous !== undefined) throw immutableDenied(repository, tag, rule, 'moved');
        // Set once, race-free: a concurrent first push of another digest makes this one lose.
        if ((await tx.tags.create(repository, tag, digest, now)) !== digest) throw immutableDenied(repository, tag, rule, 'moved');
      } else {
        await tx.tags.set(repository, tag, digest, now, { digest: previous });
      }
      await tx.tagHistory.add({ id: timeOrderedId(now), repository, tag, digest, time: now, actor: context.actor, via: context.via });
      if (previous === undefined) return undefined;
      const project = projectOf(repository);
      await publisher.publish(tx, { type: 'tag.moved', project, ...eventContext(context), data: { repository, tag, previous, digest, via: context.via } });
      await publishBaseUpdated(tx, { repository, tag, previous, digest }, eventContext(context));
      return previous;
    },

    async beforeDelete(tx, repository, target) {
      if ('tag' in target) {
        const rule = await immutableRuleFor(tx.projectRules, repository, target.tag);
        if (rule !== undefined) throw immutableDenied(repository, target.tag, rule, 'deleted');
        return;
      }
      await refuseIfHeld(tx, repository, [target.digest], `manifest ${target.digest}`);
    },

    async deleted(tx, repository, target: DeleteTarget, context) {
      if ('digest' in target) await tx.lineage.remove(repository, target.digest);
      await publisher.publish(tx, {
        type: 'delete',
        project: projectOf(repository),
        ...eventContext(context),
        data: { repository, digest: 'digest' in target ? target.digest : null, tag: 'tag' in target ? target.tag : null },
      });
    },

    async beforeBlobDelete(tx, repository, digest) {
      await refuseIfHeld(tx, repository, await tx.manifests.parents(repository, digest), `blob ${digest}`);
    },
  };

  /**
   * base.updated: the images built on what the tag pointed at are now stale. Registry-wide
   * endpoints hear of all of them; each project involved hears of those it may see (its own and
   * public projects').
   */
  async function publishBaseUpdated(tx: MetadataStore, move: { repository: string; tag: string; previous: string; digest: string }, context: { actor: string }) {
    const stale = await dependentsOf(tx, move.repository, move.previous);
    if (stale.length === 0) return;
    const refs = await Promise.all(stale.map(async (d: LineageRecord): Promise<ImageRef> => ({ repository: d.repository, digest: d.digest, tags: await tx.browse.tagsOf(d.repository, d.digest) })));
    const event = (project: string | null, staleDependents: ImageRef[], audience: 'project' | 'registry') =>
      publisher.publish(tx, { type: 'base.updated', project, actor: context.actor, audience, data: { ...move, staleDependents } });
    await event(projectOf(move.repository), refs, 'registry');
    const projects = new Set([projectOf(move.repository), ...refs.map((r) => projectOf(r.repository))]);
    const publicProjects = new Set<string>();
    for (const p of projects) if ((await tx.projects.get(p))?.public) publicProjects.add(p);
    for (const project of projects) {
      const visible = refs.filter((r) => projectOf(r.repository) === project || publicProjects.has(projectOf(r.repository)));
      if (visible.length > 0) await event(project, visible, 'project');
    }
  }
}

/** DENIED when an immutable tag points at one of `digests` or at an index that contains one. */
async function refuseIfHeld(tx: MetadataStore, repository: string, digests: string[], what: string): Promise<void> {
  const rules = await tx.projectRules.get(projectOf(repository));
  if (!rules || rules.immutableTags.length === 0) return;
  const holders = new Set(digests);
  for (const d of digests) for (const parent of await tx.manifests.parents(repository, d)) holders.add(parent);
  for (const holder of holders) {
    for (const tag of await tx.browse.tagsOf(repository, holder)) {
      const rule = await immutableRuleFor(tx.projectRules, repository, tag);
      if (rule !== undefined) {
        throw new RegistryError('DENIED', `${what} is held by the immutable tag ${repository}:${tag} (rule: immutable tags ${rule} of project ${projectOf(repository)}) and cannot be deleted`, {
          detail: { rule: 'immutableTags', pattern: rule, repository, tag },
        });
      }
    }
  }
}
