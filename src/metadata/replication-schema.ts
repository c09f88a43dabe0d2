/** Table types of migration 0012-replication; booleans are 0/1, times epoch ms. */
export interface ReplicationTables {
  replication_rules: {
    id: string;
    name: string;
    kind: string;
    enabled: number;
    spec: string;
    credentials: string | null;
    interval_seconds: number | null;
    next_run_at: number | null;
    created_at: number;
    updated_at: number;
    updated_by: string;
  };
  replication_runs: {
    id: string;
    rule_id: string;
    trigger: string;
    actor: string;
    status: string;
    created_at: number;
    started_at: number | null;
    finished_at: number | null;
    updated_at: number;
    resumed: number;
    images_total: number;
    images_done: number;
    images_skipped: number;
    images_failed: number;
    bytes: number;
    blobs_copied: number;
    blobs_skipped: number;
    error: string | null;
  };
  replication_run_items: {
    run_id: string;
    seq: number;
    repository: string;
    reference: string;
    digest: string | null;
    status: string;
    bytes: number;
    attempts: number;
    error: string | null;
    updated_at: number;
  };
  replication_uploads: { rule_id: string; repository: string; digest: string; location: string; uploaded_bytes: number; updated_at: number };
  replication_pins: { rule_id: string; repository: string; tag: string; digest: string };
  replication_queue: { id: string; rule_id: string; repository: string; reference: string; trigger: string; actor: string; created_at: number };
}
