/** Table types of migration 0007-delivery (events, webhooks, promotion, stage rules, lineage); times epoch ms. */
export interface DeliveryTables {
  /** The outbox: one row per event that at least one webhook endpoint wants, written with the change. */
  events: { id: string; type: string; time: number; project: string | null; payload: string };
  webhook_endpoints: {
    id: string;
    /** null: a registry-wide endpoint (system admins): every project's events and registry events. */
    project: string | null;
    url: string;
    /** JSON array of the event types it receives. */
    event_types: string;
    /** `wharf` or `distribution` (CNCF Distribution's notification envelope). */
    format: string;
    /** The HMAC secret, encrypted (see src/lib/secret-box.ts). */
    secret: string;
    enabled: number;
    description: string | null;
    created_by: string;
    created_at: number;
    updated_at: number;
  };
  webhook_deliveries: {
    id: string;
    endpoint_id: string;
    event_id: string;
    /** `pending`, `delivered` or `failed` (gave up). */
    status: string;
    attempts: number;
    next_attempt_at: number;
    /** Which instance is sending it, until when (a claim outlives a killed instance by its TTL only). */
    claimed_by: string | null;
    claim_expires_at: number | null;
    last_attempt_at: number | null;
    last_status: number | null;
    last_error: string | null;
    created_at: number;
    delivered_at: number | null;
    redelivery_of: string | null;
  };
  /** Keys that encrypt webhook secrets at rest (one generated on first use unless configured). */
  encryption_keys: { id: string; key: string; created_at: number };
  promotions: {
    id: string;
    time: number;
    actor: string;
    source_repository: string;
    source_reference: string;
    target_project: string;
    target_repository: string;
    target_tag: string | null;
    digest: string;
    note: string | null;
  };
  /** Every digest each tag has pointed at, from when, set by whom. */
  tag_history: { id: string; repository: string; tag: string; digest: string; time: number; actor: string | null; via: string };
  project_rules: {
    project: string;
    /** Lowest role (in promotion rank) that may promote into the project; null: anyone with `promote`. */
    promote_min_role: string | null;
    /** A project a digest must have been promoted into before it may be promoted here. */
    promote_from: string | null;
    /** JSON array of tag patterns (`*`, `v*`) that never move and cannot be deleted; null: none. */
    immutable_tags: string | null;
    updated_by: string;
    updated_at: number;
  };
  /** The lineage index: one row per single-platform image manifest per repository. */
  lineage_images: {
    repository: string;
    digest: string;
    /** sha256 over the whole layer list (see src/workflow/layer-chain.ts). */
    chain_id: string;
    layer_count: number;
    base_digest: string | null;
    base_repository: string | null;
    /** `org.opencontainers.image.base.name`, when the image says. */
    base_name: string | null;
    /** `annotation` or `layers`. */
    base_source: string | null;
    created_at: number;
  };
  /** The chain ids of every proper prefix of an image's layer list: "which images start with these layers". */
  lineage_prefixes: { repository: string; digest: string; depth: number; chain_id: string };
}
