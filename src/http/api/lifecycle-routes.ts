import type { FastifyInstance } from 'fastify';
import { RegistryError } from '../../errors.js';
import type { Lifecycle } from '../../gc/lifecycle.js';
import { actorOf, needProject, needSystem } from './caller.js';
import type { ApiContext } from './context.js';
import { nameParam, noContent, ref } from './schemas.js';

interface GcBody {
  dryRun?: boolean;
  project?: string;
  graceSeconds?: number;
}

const RUNS_SHOWN = 20;

/** Garbage collection and quotas (system admins), project lifecycle policies (project admins): docs/gc.md. */
export function lifecycleRoutes(app: FastifyInstance, { auth, callers }: ApiContext, lifecycle: Lifecycle): void {
  const { gc, settings } = lifecycle;
  const needStorage = async (request: Parameters<typeof callers.of>[0]) => needSystem(auth, await callers.of(request), 'manageStorage');

  app.get('/gc', { schema: { summary: 'GC settings, the next scheduled run and the latest runs (system admins)', tags: ['gc'], response: { 200: ref('GcStatus') } } }, async (request) => {
    await needStorage(request);
    return {
      schedule: settings.schedule,
      nextRunAt: lifecycle.schedule.nextRun()?.toISOString() ?? null,
      graceSeconds: settings.graceSeconds,
      untaggedGraceHours: settings.untaggedGraceHours,
      runs: await gc.list(RUNS_SHOWN),
    };
  });

  app.post<{ Body: GcBody }>(
    '/gc',
    {
      schema: {
        summary: 'start a GC run now; it goes on in the background (poll GET /gc/runs/{id}); 409 while another run holds the lock',
        tags: ['gc'],
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            dryRun: { type: 'boolean', description: 'list what a run would remove, remove nothing' },
            project: { type: 'string', minLength: 1, maxLength: 128, description: "only this project's repositories" },
            graceSeconds: { type: 'integer', minimum: 0, description: 'overrides gc.graceSeconds for this run' },
          },
        },
        response: { 202: ref('GcRun') },
      },
    },
    async (request, reply) => {
      const caller = await callers.of(request);
      needSystem(auth, caller, 'manageStorage');
      const body = request.body ?? {};
      const { id } = await gc.start({
        dryRun: body.dryRun === true,
        ...(body.project !== undefined ? { project: body.project } : {}),
        ...(body.graceSeconds !== undefined ? { graceSeconds: body.graceSeconds } : {}),
        trigger: 'api',
        actor: actorOf(request, caller).name,
      });
      return reply.code(202).send(await gc.get(id));
    },
  );

  app.get<{ Querystring: { limit?: number } }>(
    '/gc/runs',
    {
      schema: {
        summary: 'GC runs, newest first, with their counts (system admins)',
        tags: ['gc'],
        querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 } } },
        response: { 200: { type: 'object', required: ['runs'], properties: { runs: { type: 'array', items: ref('GcRun') } } } },
      },
    },
    async (request) => {
      await needStorage(request);
      return { runs: await gc.list(request.query.limit ?? 50) };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/gc/runs/:id',
    { schema: { summary: 'one GC run: its report with every item it removed (system admins)', tags: ['gc'], params: nameParam('id'), response: { 200: ref('GcRunDetail') } } },
    async (request) => {
      await needStorage(request);
      const report = await gc.get(request.params.id);
      if (!report) throw new RegistryError('NOT_FOUND', 'no such GC run');
      return { ...report, items: report.items ?? { tags: [], manifests: [], links: [], blobs: [], orphans: [], uploads: [] } };
    },
  );

  const policyView = async (project: string) => {
    const stored = await lifecycle.policies.get(project);
    const policy = stored ?? { deleteUntagged: true };
    return { project, custom: stored !== undefined, policy, untaggedGraceHours: policy.untaggedGraceHours ?? settings.untaggedGraceHours };
  };

  app.get<{ Params: { project: string } }>(
    '/projects/:project/policy',
    { schema: { summary: "the project's retention policy and untagged-manifest handling", tags: ['projects'], params: nameParam('project'), response: { 200: ref('ProjectPolicyView') } } },
    async (request) => {
      await needProject(auth, await callers.of(request), request.params.project, 'pull');
      await auth.accounts.getProject(request.params.project);
      return policyView(request.params.project);
    },
  );

  app.put<{ Params: { project: string }; Body: unknown }>(
    '/projects/:project/policy',
    {
      schema: {
        summary: "set the project's policy (replaces it whole); GC applies it on its next run — try it with a dry run",
        tags: ['projects'],
        params: nameParam('project'),
        body: ref('ProjectPolicy'),
        response: { 200: ref('ProjectPolicyView') },
      },
    },
    async (request) => {
      const caller = await callers.of(request);
      const { project } = request.params;
      await needProject(auth, caller, project, 'editProject');
      await auth.accounts.getProject(project);
      const actor = actorOf(request, caller);
      const policy = await lifecycle.policies.set(project, request.body, actor.name);
      auth.audit.record({ actor: actor.name, source: actor.source, action: 'project.policy', project, result: 'success', detail: { policy } });
      return policyView(project);
    },
  );

  app.delete<{ Params: { project: string } }>(
    '/projects/:project/policy',
    { schema: { summary: 'remove the project\'s policy: the defaults apply again', tags: ['projects'], params: nameParam('project'), response: noContent } },
    async (request, reply) => {
      const caller = await callers.of(request);
      const { project } = request.params;
      await needProject(auth, caller, project, 'editProject');
      const actor = actorOf(request, caller);
      if (await lifecycle.policies.reset(project)) auth.audit.record({ actor: actor.name, source: actor.source, action: 'project.policy', project, result: 'success', detail: { policy: null } });
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { project: string } }>(
    '/projects/:project/quota',
    { schema: { summary: "the project's storage quota and usage", tags: ['projects'], params: nameParam('project'), response: { 200: ref('ProjectQuota') } } },
    async (request) => {
      await needProject(auth, await callers.of(request), request.params.project, 'pull');
      await auth.accounts.getProject(request.params.project);
      return lifecycle.quotas.get(request.params.project);
    },
  );

  app.put<{ Params: { project: string }; Body: { limitBytes: number | null } }>(
    '/projects/:project/quota',
    {
      schema: {
        summary: "set or remove (null) the project's quota in bytes (system admins); pushes past it are refused with DENIED",
        tags: ['projects'],
        params: nameParam('project'),
        body: { type: 'object', required: ['limitBytes'], additionalProperties: false, properties: { limitBytes: { type: ['integer', 'null'], minimum: 0 } } },
        response: { 200: ref('ProjectQuota') },
      },
    },
    async (request) => {
      const caller = await callers.of(request);
      needSystem(auth, caller, 'manageStorage');
      const { project } = request.params;
      await auth.accounts.getProject(project);
      const view = await lifecycle.quotas.set(project, request.body.limitBytes);
      const actor = actorOf(request, caller);
      auth.audit.record({ actor: actor.name, source: actor.source, action: 'project.quota', project, result: 'success', detail: { limitBytes: view.limitBytes } });
      return view;
    },
  );
}
