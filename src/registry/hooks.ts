import type { RequestInfo } from '../events/types.js';
import type { MetadataStore } from '../metadata/store.js';
import type { ParsedManifest } from '../oci/manifest.js';

/** Who changes the registry, for the events and histories the change writes. */
export interface WriteContext {
  /** A user, `robot$…`, or `anonymous`. */
  actor: string;
  request?: RequestInfo;
}

export interface StoredManifest {
  repository: string;
  digest: string;
  mediaType: string;
  size: number;
  parsed: ParsedManifest;
  /** The tag the push names (null: pushed by digest). */
  tag: string | null;
}

export type DeleteTarget = { tag: string } | { digest: string };

/**
 * What the delivery flow (src/workflow, src/events) adds to registry writes. Every method runs
 * inside the transaction of the write (`tx`), so whatever it records or refuses is part of it:
 * a refusal (RegistryError DENIED) rolls the whole write back.
 */
export interface RegistryHooks {
  /** A manifest's rows were written (a push). */
  manifestStored(tx: MetadataStore, stored: StoredManifest, context: WriteContext): Promise<void>;
  /** Points `tag` at `digest`: the one way a push or a promotion moves a tag. Returns the digest it pointed at before. */
  setTag(tx: MetadataStore, repository: string, tag: string, digest: string, context: WriteContext & { via: 'push' | 'promotion' }): Promise<string | undefined>;
  /** Before a tag or a manifest (with its tags) is deleted: may refuse. */
  beforeDelete(tx: MetadataStore, repository: string, target: DeleteTarget): Promise<void>;
  /** After the delete's rows are gone. */
  deleted(tx: MetadataStore, repository: string, target: DeleteTarget, context: WriteContext): Promise<void>;
  /** Before a blob's link to a repository is removed: may refuse. */
  beforeBlobDelete(tx: MetadataStore, repository: string, digest: string): Promise<void>;
}

/** No delivery flow: tags just move. */
export const plainHooks = (now: () => number): RegistryHooks => ({
  async manifestStored() {},
  setTag: (tx, repository, tag, digest) => tx.tags.set(repository, tag, digest, now()),
  async beforeDelete() {},
  async deleted() {},
  async beforeBlobDelete() {},
});
