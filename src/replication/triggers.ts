import { randomUUID } from 'node:crypto';
import type { MetadataStore } from '../metadata/store.js';
import type { RegistryHooks } from '../registry/hooks.js';
import { ruleOf } from './rule.js';
import { pushSelects, type PushSpec, type PushTrigger } from './rule-spec.js';
import { tagMatcher } from './tag-filter.js';

export interface TriggerOptions {
  now: () => number;
  /** Called after an image was queued (the change commits right after: look a moment later). */
  onQueued: () => void;
}

/** Whether the rule's tag filter takes `tag`. */
const takesTag = (push: PushSpec, tag: string) => push.tags === null || tagMatcher(push.tags)(tag);

/**
 * Push rules triggered by a push or a promotion: the registry's hooks (src/registry/hooks.ts)
 * call these inside the transaction that moves the tag, so the image is queued for every rule
 * that wants it if and only if the change commits — a crash right after loses no replication.
 * A manifest pushed by digest with a subject (a signature, an SBOM) is queued when its subject
 * carries a tag the rule takes, so referrers added after the image follow it.
 */
export function withReplicationTriggers(hooks: RegistryHooks, options: TriggerOptions): RegistryHooks {
  async function enqueue(tx: MetadataStore, repository: string, reference: string, via: PushTrigger, actor: string, wants: (push: PushSpec) => boolean | Promise<boolean>): Promise<void> {
    let queued = false;
    for (const record of await tx.replicationRules.list()) {
      if (record.kind !== 'push' || !record.enabled) continue;
      const { definition } = ruleOf(record);
      if (definition.kind !== 'push' || !definition.push.triggers.includes(via) || !pushSelects(definition.push, repository)) continue;
      if (!(await wants(definition.push))) continue;
      await tx.replicationRules.enqueue({ id: randomUUID(), ruleId: record.id, repository, reference, trigger: via, actor, createdAt: options.now() });
      queued = true;
    }
    if (queued) setTimeout(options.onQueued, 100).unref();
  }

  return {
    ...hooks,
    async manifestStored(tx, stored, context) {
      await hooks.manifestStored(tx, stored, context);
      const subject = stored.parsed.subject?.digest;
      if (stored.tag !== null || subject === undefined) return;
      const subjectTags = await tx.browse.tagsOf(stored.repository, subject);
      await enqueue(tx, stored.repository, stored.digest, 'push', context.actor, (push) => subjectTags.some((tag) => takesTag(push, tag)));
    },
    async setTag(tx, repository, tag, digest, context) {
      const previous = await hooks.setTag(tx, repository, tag, digest, context);
      if (previous !== digest) await enqueue(tx, repository, tag, context.via, context.actor, (push) => takesTag(push, tag));
      return previous;
    },
  };
}
