/** Shapes of the /api/v1 answers the console reads. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  osVersion?: string;
}

export interface RepositorySummary {
  name: string;
  tagCount: number;
  manifestCount: number;
  size: number;
  lastPush: number | null;
}

export interface Page<T> {
  items: T[];
  total: number;
}

export interface Tag {
  name: string;
  digest: string;
  mediaType: string;
  artifactType: string | null;
  size: number;
  platforms: Platform[];
  pushedAt: number;
  lastPulledAt: number | null;
}

export interface Layer {
  digest: string;
  mediaType: string;
  size: number;
  createdBy?: string;
}

export interface History {
  created?: string;
  createdBy?: string;
  comment?: string;
  emptyLayer: boolean;
}

export interface ImageConfig {
  created?: string;
  os?: string;
  architecture?: string;
  variant?: string;
  author?: string;
  user?: string;
  workingDir?: string;
  env: string[];
  entrypoint: string[];
  cmd: string[];
  labels: Record<string, string>;
  exposedPorts: string[];
  volumes: string[];
  history: History[];
}

export interface Image {
  repository: string;
  digest: string;
  mediaType: string;
  kind: 'image' | 'index' | 'other';
  manifestSize: number;
  size: number;
  artifactType: string | null;
  annotations: Record<string, string>;
  subject: string | null;
  tags: string[];
  pushedAt: number;
  lastPulledAt: number | null;
  layers: Layer[];
  config: ImageConfig | null;
  configMediaType: string | null;
  manifests: Array<{ digest: string; mediaType: string; size: number; platform?: Platform; annotations?: Record<string, string> }>;
  platforms: Platform[];
  referrers: Array<{ artifactType: string; items: Array<{ digest: string; mediaType: string; size: number; annotations?: Record<string, string> }> }>;
}

export interface Usage {
  projects: Array<{ name: string; repositories: number; size: number }>;
  counts?: { repositories: number; tags: number; manifests: number; blobs: number; blobBytes: number };
  mirror?: { hits: number; misses: number; hitRate: number | null };
}

export interface Project {
  name: string;
  public: boolean;
  createdAt?: string;
}

export interface Member {
  username: string;
  role: string;
  since?: string;
}

export interface Robot {
  name: string;
  project?: string;
  actions: string[];
  description?: string | null;
  createdBy?: string;
  createdAt?: string;
  expiresAt?: string | null;
  revokedAt?: string | null;
}

export interface AuditEvent {
  time: string;
  actor: string;
  source: string | null;
  action: string;
  project: string | null;
  repository: string | null;
  reference: string | null;
  digest: string | null;
  result: string;
}

export const ROLES = ['admin', 'maintainer', 'developer', 'tester', 'guest'] as const;

/** A user account as the users API returns it. */
export interface UserAccount {
  name: string;
  admin: boolean;
  createdAt: string;
}
