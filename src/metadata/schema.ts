import type { ColumnType } from 'kysely';
import type { AuthTables } from './auth-schema.js';
import type { DeliveryTables } from './delivery-schema.js';
import type { ReplicationTables } from './replication-schema.js';

/** Where a blob's bytes are: being put in place, present, or being deleted by GC. */
export type BlobState = 'pending' | 'live' | 'deleting';

/** Who owns a `deleting` row: a holder of the GC lease, or the mirror cache's eviction (no lease). */
export type Deleter = 'gc' | 'eviction';

/**
 * The metadata tables, shared by SQLite and PostgreSQL. Times are epoch milliseconds; sizes are
 * bytes. Repository names are the keys (no surrogate ids): they are short and immutable.
 */
export interface Database {
  repositories: { name: string; created_at: number };
  /** 0006-lifecycle: `state`, `touched_at`, `deleting_since`, `deleting_by` (see migrations/0006-lifecycle.ts). */
  blobs: {
    digest: string;
    size: number;
    created_at: number;
    state: ColumnType<BlobState, BlobState | undefined, BlobState>;
    touched_at: ColumnType<number, number | undefined, number>;
    deleting_since: ColumnType<number | null, number | null | undefined, number | null>;
    deleting_by: ColumnType<Deleter | null, Deleter | null | undefined, Deleter | null>;
  };
  repository_blobs: { repository: string; digest: string; created_at: number; touched_at: ColumnType<number, number | undefined, number> };
  manifests: {
    repository: string;
    digest: string;
    media_type: string;
    size: number;
    artifact_type: string | null;
    subject: string | null;
    config_digest: string | null;
    annotations: string | null;
    created_at: number;
    /** 0004-console: epoch ms of the last manifest GET (throttled), and platforms as JSON. */
    last_pulled_at: ColumnType<number | null, number | null | undefined, number | null>;
    platforms: ColumnType<string | null, string | null | undefined, string | null>;
    /** 0011: manifest GETs counted so far (written in batches, see audit-log.ts). */
    pull_count: ColumnType<number, number | undefined, number>;
    /** 0006-lifecycle: the last push of this manifest here, or the last time a tag left it. */
    touched_at: ColumnType<number, number | undefined, number>;
  };
  manifest_references: { repository: string; parent: string; child: string; kind: 'blob' | 'manifest' };
  tags: { repository: string; name: string; digest: string; updated_at: number };
  uploads: { id: string; repository: string; size: number; created_at: number; updated_at: number };
  /** 0003-mirror: the pull-through cache's index (see mirror-cache.ts). */
  mirror_cache: { repository: string; digest: string; kind: string; size: number; upstream: string; created_at: number; last_pulled_at: number };
  mirror_tags: { repository: string; tag: string; checked_at: number };
  /** 0005-leases: who holds which named lease until when (see leases.ts). */
  leases: { name: string; holder: string; acquired_at: number; expires_at: number };
  /** 0006-lifecycle: each distinct digest a project holds, its usage and quota, policies, GC runs. */
  project_blobs: { project: string; digest: string; size: number };
  project_usage: { project: string; used_bytes: number; quota_bytes: number | null; warned_at: number | null };
  project_policies: { project: string; policy: string; updated_at: number; updated_by: string };
  gc_runs: {
    id: string;
    started_at: number;
    finished_at: number | null;
    status: string;
    dry_run: number;
    trigger: string;
    actor: string;
    project: string | null;
    grace_ms: number;
    summary: string | null;
    items: string | null;
    error: string | null;
  };
  /** 0002-auth: identities, projects, sessions, signing keys, login counters, audit (see auth-schema.ts). */
  users: AuthTables['users'];
  projects: AuthTables['projects'];
  project_members: AuthTables['project_members'];
  robots: AuthTables['robots'];
  sessions: AuthTables['sessions'];
  signing_keys: AuthTables['signing_keys'];
  login_failures: AuthTables['login_failures'];
  audit_events: AuthTables['audit_events'];
  /** 0007-delivery: the event outbox, webhooks, promotions, stage rules, tag history, lineage (see delivery-schema.ts). */
  events: DeliveryTables['events'];
  webhook_endpoints: DeliveryTables['webhook_endpoints'];
  webhook_deliveries: DeliveryTables['webhook_deliveries'];
  encryption_keys: DeliveryTables['encryption_keys'];
  promotions: DeliveryTables['promotions'];
  tag_history: DeliveryTables['tag_history'];
  project_rules: DeliveryTables['project_rules'];
  lineage_images: DeliveryTables['lineage_images'];
  lineage_prefixes: DeliveryTables['lineage_prefixes'];
  /** 0012-replication: rules, runs, pins, resumable uploads, trigger queue (see replication-schema.ts). */
  replication_rules: ReplicationTables['replication_rules'];
  replication_runs: ReplicationTables['replication_runs'];
  replication_run_items: ReplicationTables['replication_run_items'];
  replication_uploads: ReplicationTables['replication_uploads'];
  replication_pins: ReplicationTables['replication_pins'];
  replication_queue: ReplicationTables['replication_queue'];
  /** 0013: pushed manifests' bytes until their files are flushed (see placement-journal.ts). */
  placement_journal: { id: string; digest: string; body: string; created_at: number };
}
