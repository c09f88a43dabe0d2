import type { FastifyRequest } from 'fastify';

export type Action = 'pull' | 'push' | 'delete';

/** What a `/v2` request needs to be allowed to do. */
export type AccessScope =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'repository'; repository: string; actions: Action[] };

/**
 * The seam between the registry API and authentication/authorization. `require` throws
 * `RegistryError('UNAUTHORIZED' | 'DENIED')` (with the right `WWW-Authenticate` header) when the
 * request may not proceed.
 */
export interface V2Access {
  require(request: FastifyRequest, scope: AccessScope): Promise<void>;
  /** Whether the caller may pull `repository` (cross-repository mounts, catalog filtering). */
  canPull(request: FastifyRequest, repository: string): Promise<boolean>;
  /** Called once a request has been served, for the audit log. */
  record?(request: FastifyRequest, event: RegistryEvent): void;
}

/** Something worth auditing that a `/v2` request did. */
export interface RegistryEvent {
  action: 'push' | 'pull' | 'delete' | 'mount';
  repository: string;
  reference?: string;
  digest?: string;
  mediaType?: string;
  /** A pull served by the mirror: the upstream, and whether its cache had it. */
  mirror?: { upstream: string; cache: 'hit' | 'miss' };
}

/** No authentication: every request may do everything (auth.mode `none`). */
export const openAccess: V2Access = {
  async require() {},
  async canPull() {
    return true;
  },
};
