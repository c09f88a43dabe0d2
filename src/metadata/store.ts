import { SqliteAdapter, sql } from 'kysely';
import { builtWhole, lazyRecord } from '../lib/lazy-record.js';
import type { Db } from './database.js';
import { relaxedTransaction } from './dialect.js';
import { withDirectStatements } from './direct-statements.js';
import { blobStore, type BlobStore } from './blobs.js';
import { browseStore, type BrowseStore } from './browse.js';
import { gcRunStore, type GcRunStore } from './gc-runs.js';
import { gcScanStore, type GcScanStore } from './gc-scan.js';
import { leaseStore, type LeaseStore } from './leases.js';
import { manifestStore, type ManifestStore } from './manifests.js';
import { mirrorCacheStore, type MirrorCacheStore } from './mirror-cache.js';
import { replicationPinStore, replicationUploadStore, type ReplicationPinStore, type ReplicationUploadStore } from './replication-content.js';
import { replicationRuleStore, type ReplicationRuleStore } from './replication-rules.js';
import { replicationRunStore, type ReplicationRunStore } from './replication-runs.js';
import { repositoryStore, type RepositoryStore } from './repositories.js';
import { tagStore, type TagStore } from './tags.js';
import { uploadStore, type UploadStore } from './uploads.js';
import { auditStore, type AuditStore } from './audit.js';
import type { BackgroundWriter } from './background-writer.js';
import type { FastReads } from './fast-reads.js';
import { authStateStore, type AuthStateStore } from './auth-state.js';
import { policyStore, type PolicyStore } from './policies.js';
import { projectStore, type ProjectStore } from './projects.js';
import { reclaimStore, type ReclaimStore } from './reclaim.js';
import { robotStore, type RobotStore } from './robots.js';
import { sessionStore, type SessionStore } from './sessions.js';
import { userStore, type UserStore } from './users.js';
import { lineageStore, type LineageStore } from './lineage.js';
import { outboxStore, type OutboxStore } from './outbox.js';
import { projectRulesStore, type ProjectRulesStore } from './project-rules.js';
import { promotionStore, type PromotionStore } from './promotions.js';
import { tagHistoryStore, type TagHistoryStore } from './tag-history.js';
import { webhookEndpointStore, type WebhookEndpointStore } from './webhook-endpoints.js';
import { placementJournalStore, type PlacementJournalStore } from './placement-journal.js';

/** The registry's metadata: small sub-stores over one database, and transactions across them. */
export interface MetadataStore {
  readonly repositories: RepositoryStore;
  readonly blobs: BlobStore;
  readonly manifests: ManifestStore;
  readonly tags: TagStore;
  readonly uploads: UploadStore;
  /** The registry mirror's cache index (LRU pull times, tag check times). */
  readonly mirrorCache: MirrorCacheStore;
  readonly users: UserStore;
  readonly projects: ProjectStore;
  readonly robots: RobotStore;
  readonly sessions: SessionStore;
  readonly audit: AuditStore;
  readonly authState: AuthStateStore;
  /** The console's listings, usage and pull/platform columns. */
  readonly browse: BrowseStore;
  /** Named expiring leases: one runner at a time across instances (GC, fetches, deliveries). */
  readonly leases: LeaseStore;
  /** The event outbox and webhook delivery log. */
  readonly outbox: OutboxStore;
  readonly webhooks: WebhookEndpointStore;
  readonly promotions: PromotionStore;
  /** Every digest each tag has pointed at. */
  readonly tagHistory: TagHistoryStore;
  /** Per-project stage rules and immutable tag patterns. */
  readonly projectRules: ProjectRulesStore;
  /** The base-image lineage index. */
  readonly lineage: LineageStore;
  /** Replication rules and the images triggers queued for them (docs/replication.md). */
  readonly replicationRules: ReplicationRuleStore;
  /** Replication runs and their images: the execution log. */
  readonly replicationRuns: ReplicationRunStore;
  /** What pull rules keep in the mirror cache (eviction skips it). */
  readonly replicationPins: ReplicationPinStore;
  /** Where chunked pushes stand at their targets. */
  readonly replicationUploads: ReplicationUploadStore;
  /** GC's paged reads, and its deletes that re-check what they delete (docs/gc.md). */
  readonly gcScan: GcScanStore;
  readonly reclaim: ReclaimStore;
  readonly gcRuns: GcRunStore;
  /** Project retention policies, usage and quotas. */
  readonly policies: PolicyStore;
  /** Pushed manifests' bytes until their files are flushed (registry/placement-journal.ts). */
  readonly placementJournal: PlacementJournalStore;
  /**
   * Runs `work` in one transaction: every write in it commits, or none does. `relaxed`: the
   * commit does not wait for the disk (dialect.ts), for records whose loss in a crash is harmless.
   */
  transaction<T>(work: (store: MetadataStore) => Promise<T>, options?: { relaxed?: boolean }): Promise<T>;
  /**
   * Transactions begun through this store that have not ended: running, or waiting for SQLite's
   * one connection. Zero: a transaction begun now starts at once and holds up nobody.
   */
  openTransactions(): number;
  /** Throws when the database cannot answer, or (SQLite) cannot take a write. */
  ping(): Promise<void>;
}

interface StoreInput {
  db: Db;
  writer: BackgroundWriter | undefined;
  reads: FastReads | undefined;
  /** Transactions begun through this store and not ended (a counter the store's copies share). */
  open: { count: number };
}

/**
 * A transaction's store: its sub-stores are built on first use, so one builds the few its work
 * touches, not all of them — building them all was a tenth of what a manifest PUT allocated
 * (docs/benchmarks.md, "Fourteenth session").
 */
const storeOver: (input: StoreInput) => MetadataStore = lazyRecord<StoreInput, MetadataStore>({
  repositories: ({ db }) => repositoryStore(db),
  blobs: ({ db, reads }) => blobStore(db, reads),
  manifests: ({ db, reads }) => manifestStore(db, reads),
  tags: ({ db, reads }) => tagStore(db, reads),
  uploads: ({ db }) => uploadStore(db),
  mirrorCache: ({ db }) => mirrorCacheStore(db),
  users: ({ db }) => userStore(db),
  projects: ({ db }) => projectStore(db),
  robots: ({ db }) => robotStore(db),
  sessions: ({ db }) => sessionStore(db),
  audit: ({ db, writer }) => auditStore(db, writer),
  authState: ({ db }) => authStateStore(db),
  browse: ({ db }) => browseStore(db),
  leases: ({ db }) => leaseStore(db),
  outbox: ({ db }) => outboxStore(db),
  webhooks: ({ db }) => webhookEndpointStore(db),
  promotions: ({ db }) => promotionStore(db),
  tagHistory: ({ db }) => tagHistoryStore(db),
  projectRules: ({ db }) => projectRulesStore(db),
  lineage: ({ db }) => lineageStore(db),
  replicationRules: ({ db }) => replicationRuleStore(db),
  replicationRuns: ({ db }) => replicationRunStore(db),
  replicationPins: ({ db }) => replicationPinStore(db),
  replicationUploads: ({ db }) => replicationUploadStore(db),
  gcScan: ({ db }) => gcScanStore(db),
  reclaim: ({ db }) => reclaimStore(db),
  gcRuns: ({ db }) => gcRunStore(db),
  policies: ({ db }) => policyStore(db),
  placementJournal: ({ db }) => placementJournalStore(db),
  transaction: ({ db, writer, open }, self) => (work, options) => {
    // Already inside one: join it (Kysely has no nested transactions).
    if (db.isTransaction) return work(self);
    const inTransaction = (trx: Db) => withDirectStatements(db, trx, () => work(storeOver({ db: trx, writer, reads: undefined, open: { count: 0 } })));
    open.count += 1;
    const ended = () => void (open.count -= 1);
    const running = options?.relaxed ? relaxedTransaction(db, inTransaction) : db.transaction().execute(inTransaction);
    running.then(ended, ended);
    return running;
  },
  openTransactions: ({ open }) => () => open.count,
  ping: ({ db }) => async () => {
    // SQLite: take and drop the write lock, so a file another process holds counts as down
    // (reads would still pass). PostgreSQL: a round trip on a pooled connection.
    if (db.getExecutor().adapter instanceof SqliteAdapter) {
      await db.connection().execute(async (connection) => {
        await sql`begin immediate`.execute(connection);
        await sql`rollback`.execute(connection);
      });
    } else {
      await sql`select 1`.execute(db);
    }
  },
});

/**
 * `writer` runs the audit log's batches (pull counts included); default: inline on `db`. `reads`
 * serves the hot reads outside transactions (fast-reads.ts); default: through `db`.
 */
export function metadataStore(db: Db, writer?: BackgroundWriter, reads?: FastReads): MetadataStore {
  // The application's store is built whole, once: wrappers (mapRejections) copy its fields.
  return builtWhole(storeOver({ db, writer, reads, open: { count: 0 } }));
}
