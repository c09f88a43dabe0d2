/** Table types of migration 0002-auth; booleans are 0/1, times epoch ms. */
export interface AuthTables {
  users: { name: string; password_hash: string; admin: number; created_at: number; password_changed_at: number };
  projects: { name: string; public: number; created_at: number };
  project_members: { project: string; username: string; role: string; created_at: number };
  robots: {
    name: string;
    project: string;
    secret_hash: string;
    /** Comma-separated repository actions (`pull,push`). */
    actions: string;
    description: string | null;
    created_by: string;
    created_at: number;
    expires_at: number | null;
    revoked_at: number | null;
  };
  sessions: { id_hash: string; username: string; csrf_token: string; created_at: number; expires_at: number };
  signing_keys: { id: string; private_jwk: string; created_at: number };
  login_failures: { key: string; window_start: number; count: number };
  audit_events: {
    id: string;
    time: number;
    actor: string;
    source: string | null;
    action: string;
    project: string | null;
    repository: string | null;
    reference: string | null;
    digest: string | null;
    result: string;
    detail: string | null;
    /** 0011: how many occurrences the row stands for (pulls of one manifest by one identity in an hour), and the first one's time. */
    count: number;
    first_time: number | null;
  };
}
