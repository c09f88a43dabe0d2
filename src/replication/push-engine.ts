import type { MetadataStore } from '../metadata/store.js';
import { createUpstreamClient } from '../mirror/upstream-client.js';
import type { Registry } from '../registry/registry.js';
import type { StorageDriver } from '../storage/driver.js';
import type { SecretBox } from '../lib/secret-box.js';
import { openCredentials } from './credentials.js';
import { pushImage } from './push-image.js';
import { remoteRegistry } from './remote-registry.js';
import type { PlannedImage, RuleEngine } from './rule.js';
import { pushSelects, type PushSpec } from './rule-spec.js';
import { tagMatcher } from './tag-filter.js';

export interface PushEngineDeps {
  metadata: MetadataStore;
  storage: StorageDriver;
  /** The private registry (undecorated). */
  registry: Registry;
  secrets: SecretBox;
  now: () => number;
  /** Blobs sent at a time per image. */
  blobConcurrency: number;
  /** Idle time on a target socket before a request fails. */
  timeoutMs: number;
}

const PAGE = 1_000;

/** Push rules: copy a local project's images to another registry. */
export function pushEngine(deps: PushEngineDeps): RuleEngine {
  /** The project's repositories the rule selects, in name order. */
  async function* repositoriesOf(spec: PushSpec): AsyncGenerator<string> {
    let last = `${spec.project}/`;
    for (;;) {
      const names = await deps.metadata.repositories.list({ last, limit: PAGE });
      for (const name of names) {
        if (!name.startsWith(`${spec.project}/`)) return;
        if (pushSelects(spec, name)) yield name;
      }
      if (names.length < PAGE) return;
      last = names[names.length - 1]!;
    }
  }

  async function tagsOf(repository: string): Promise<string[]> {
    const tags: string[] = [];
    let last: string | undefined;
    for (;;) {
      const page = await deps.registry.listTags(repository, { n: PAGE, ...(last !== undefined ? { last } : {}) });
      tags.push(...page.items);
      if (!page.next) return tags;
      last = page.next;
    }
  }

  return {
    async open(rule, context) {
      if (rule.definition.kind !== 'push') throw new Error(`rule ${rule.name} is not a push rule`);
      const spec = rule.definition.push;
      const credentials = rule.sealedCredentials === null ? undefined : openCredentials(deps.secrets, rule.sealedCredentials);
      const remote = remoteRegistry(
        createUpstreamClient({
          name: rule.name,
          role: 'target',
          url: spec.target.url,
          ...(credentials ? { username: credentials.username, password: credentials.password } : {}),
          timeoutMs: deps.timeoutMs,
          userAgent: 'wharf-replication',
          now: deps.now,
        }),
      );
      const copiedTo = new Map<string, string>();
      return {
        async plan() {
          const matches = spec.tags ? tagMatcher(spec.tags) : () => true;
          const images: PlannedImage[] = [];
          for await (const repository of repositoriesOf(spec)) {
            for (const tag of await tagsOf(repository)) if (matches(tag)) images.push({ repository, reference: tag });
          }
          return images;
        },
        copy: (image) => pushImage({ ...deps, remote, target: spec.target }, context, spec, image, copiedTo),
        close: () => remote.close(),
      };
    },
  };
}
