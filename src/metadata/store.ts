import { SqliteAdapter, sql } from 'kysely';
import type { Db } from './database.js';
import { relaxedTransaction } from './dialect.js';
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

/**
 * `writer` runs the audit log's batches (pull counts included); default: inline on `db`. `reads`
 * serves the hot reads outside transactions (fast-reads.ts); default: through `db`.
 */
export function metadataStore(db: Db, writer?: BackgroundWriter, reads?: FastReads): MetadataStore {
  let open = 0;
  return {
    repositories: repositoryStore(db),
    blobs: blobStore(db, reads),
    manifests: manifestStore(db, reads),
    tags: tagStore(db, reads),
    uploads: uploadStore(db),
    mirrorCache: mirrorCacheStore(db),
    users: userStore(db),
    projects: projectStore(db),
    robots: robotStore(db),
    sessions: sessionStore(db),
    audit: auditStore(db, writer),
    authState: authStateStore(db),
    browse: browseStore(db),
    leases: leaseStore(db),
    outbox: outboxStore(db),
    webhooks: webhookEndpointStore(db),
    promotions: promotionStore(db),
    tagHistory: tagHistoryStore(db),
    projectRules: projectRulesStore(db),
    lineage: lineageStore(db),
    replicationRules: replicationRuleStore(db),
    replicationRuns: replicationRunStore(db),
    replicationPins: replicationPinStore(db),
    replicationUploads: replicationUploadStore(db),
    gcScan: gcScanStore(db),
    reclaim: reclaimStore(db),
    gcRuns: gcRunStore(db),
    policies: policyStore(db),
    placementJournal: placementJournalStore(db),
    transaction(work, options) {
      // Already inside one: join it (Kysely has no nested transactions).
      if (db.isTransaction) return work(this);
      const inTransaction = (trx: Db) => work(metadataStore(trx, writer));
      open += 1;
      const ended = () => void (open -= 1);
      const running = options?.relaxed ? relaxedTransaction(db, inTransaction) : db.transaction().execute(inTransaction);
      running.then(ended, ended);
      return running;
    },
    openTransactions: () => open,
    async ping() {
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
  };
}
