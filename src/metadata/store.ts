import { sql } from 'kysely';
import type { Db } from './database.js';
import { blobStore, type BlobStore } from './blobs.js';
import { manifestStore, type ManifestStore } from './manifests.js';
import { repositoryStore, type RepositoryStore } from './repositories.js';
import { tagStore, type TagStore } from './tags.js';
import { uploadStore, type UploadStore } from './uploads.js';

/** The registry's metadata: small sub-stores over one database, and transactions across them. */
export interface MetadataStore {
  readonly repositories: RepositoryStore;
  readonly blobs: BlobStore;
  readonly manifests: ManifestStore;
  readonly tags: TagStore;
  readonly uploads: UploadStore;
  /** Runs `work` in one transaction: every write in it commits, or none does. */
  transaction<T>(work: (store: MetadataStore) => Promise<T>): Promise<T>;
  /** Throws when the database cannot answer. */
  ping(): Promise<void>;
}

export function metadataStore(db: Db): MetadataStore {
  return {
    repositories: repositoryStore(db),
    blobs: blobStore(db),
    manifests: manifestStore(db),
    tags: tagStore(db),
    uploads: uploadStore(db),
    transaction(work) {
      // Already inside one: join it (Kysely has no nested transactions).
      if (db.isTransaction) return work(this);
      return db.transaction().execute((trx) => work(metadataStore(trx)));
    },
    async ping() {
      await sql`select 1`.execute(db);
    },
  };
}
