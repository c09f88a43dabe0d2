import type { FastifyRequest } from 'fastify';
import type { AuditLog } from '../../auth/audit-log.js';
import { projectOf } from '../../oci/names.js';
import type { RegistryEvent } from '../access.js';
import { sourceOf } from './credentials.js';

/** Audits a registry event that succeeded, done by `actor` (empty: anonymous). */
export function auditRegistryEvent(audit: AuditLog, request: FastifyRequest, actor: string, event: RegistryEvent, detail?: Record<string, unknown>): void {
  audit.record({
    actor: actor || 'anonymous',
    source: sourceOf(request),
    action: event.action,
    project: projectOf(event.repository),
    repository: event.repository,
    reference: event.reference,
    digest: event.digest,
    result: 'success',
    detail,
  });
}
