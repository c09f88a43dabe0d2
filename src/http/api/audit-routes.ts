import type { FastifyInstance } from 'fastify';
import { RegistryError } from '../../errors.js';
import { needProject, needSystem } from './caller.js';
import type { ApiContext } from './context.js';
import { ref } from './schemas.js';

interface AuditQueryString {
  actor?: string;
  project?: string;
  action?: string;
  repository?: string;
  since?: string;
  until?: string;
  limit?: number;
  offset?: number;
}

const time = (value: string | undefined, name: string): number | undefined => {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) throw new RegistryError('INVALID_REQUEST', `${name} must be an ISO 8601 time or epoch milliseconds`);
  return ms;
};

/** The audit log, newest first: system admins see all of it; project admins and maintainers their project's. */
export function auditRoutes(app: FastifyInstance, { auth, callers }: ApiContext): void {
  app.get<{ Querystring: AuditQueryString }>(
    '/audit',
    {
      schema: {
        summary: 'query the audit log (filters combine; action may be a comma-separated list)',
        tags: ['audit'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            actor: { type: 'string' },
            project: { type: 'string' },
            action: { type: 'string' },
            repository: { type: 'string' },
            since: { type: 'string' },
            until: { type: 'string' },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            offset: { type: 'integer', minimum: 0, default: 0 },
          },
        },
        response: { 200: { type: 'object', required: ['total', 'events'], properties: { total: { type: 'integer' }, events: { type: 'array', items: ref('AuditEvent') } } } },
      },
    },
    async (request) => {
      const caller = await callers.of(request);
      const q = request.query;
      if (q.project !== undefined && !auth.permissions.system(caller.principal).has('readAllAudit')) {
        await needProject(auth, caller, q.project, 'readAudit');
      } else {
        needSystem(auth, caller, 'readAllAudit');
      }
      await auth.audit.settle();
      const since = time(q.since, 'since');
      const until = time(q.until, 'until');
      const result = await auth.audit.query({
        ...(q.actor !== undefined ? { actor: q.actor } : {}),
        ...(q.project !== undefined ? { project: q.project } : {}),
        ...(q.action !== undefined ? { actions: q.action.split(',').filter((a) => a !== '') } : {}),
        ...(q.repository !== undefined ? { repository: q.repository } : {}),
        ...(since !== undefined ? { since } : {}),
        ...(until !== undefined ? { until } : {}),
        limit: q.limit ?? 100,
        offset: q.offset ?? 0,
      });
      return {
        total: result.total,
        events: result.events.map((e) => ({
          time: new Date(e.time).toISOString(),
          firstTime: e.first_time === null ? null : new Date(e.first_time).toISOString(),
          count: e.count,
          actor: e.actor,
          source: e.source,
          action: e.action,
          project: e.project,
          repository: e.repository,
          reference: e.reference,
          digest: e.digest,
          result: e.result,
          detail: e.detail === null ? null : (JSON.parse(e.detail) as unknown),
        })),
      };
    },
  );
}
