import type { FastifyInstance } from 'fastify';
import { roles } from '../../auth/policy.js';
import { projectOf } from '../../oci/names.js';
import { writeContextOf } from '../write-context.js';
import { actorOf, need, needProject } from './caller.js';
import { schemas, type ApiContext, type DeliveryServices } from './context.js';
import { canSeeProject, pullFilterOf } from './read-access.js';
import { ref } from './schemas.js';

const repository = { type: 'string', minLength: 1, maxLength: 255 } as const;
const reference = { type: 'string', minLength: 1, maxLength: 200, description: 'a tag or a digest' } as const;

type PromoteBody = { source: { repository: string; reference: string }; target: { repository: string; tag?: string | null }; note?: string };

/** Promotion, an image's history, and a project's stage rules and immutable tags. */
export function promotionRoutes(app: FastifyInstance, { auth, callers, delivery }: ApiContext & { delivery: DeliveryServices }): void {
  const { workflow } = delivery;

  app.post<{ Body: PromoteBody }>(
    '/promotions',
    {
      schema: {
        summary: 'promote an image (with its platforms and referrers) into another repository, on the server: no blob is copied, the digest stays',
        tags: ['promotion'],
        body: {
          type: 'object',
          required: ['source', 'target'],
          additionalProperties: false,
          properties: {
            source: { type: 'object', required: ['repository', 'reference'], additionalProperties: false, properties: { repository, reference } },
            target: {
              type: 'object',
              required: ['repository'],
              additionalProperties: false,
              properties: { repository, tag: { type: ['string', 'null'], minLength: 1, maxLength: 128, description: "absent: the source's tag; null: none" } },
            },
            note: { type: 'string', maxLength: 1000, description: 'e.g. the URL of a test report' },
          },
        },
        response: { 201: ref('Promotion') },
      },
    },
    async (request, reply) => {
      const caller = await callers.of(request);
      need(caller, caller.principal.kind !== 'anonymous' || auth.config.mode === 'none');
      const { source, target, note } = request.body;
      const targetProject = projectOf(target.repository);
      await needProject(auth, caller, projectOf(source.repository), 'pull');
      await needProject(auth, caller, targetProject, 'promote');
      // Like a push, a system admin's promotion creates a missing project.
      await auth.permissions.ensureProject(targetProject);
      const { rank, role } = await auth.permissions.promotion(caller.principal, targetProject);
      const context = writeContextOf(request);
      const result = await workflow.promotions.promote({ source, target, ...(note !== undefined ? { note } : {}) }, { ...context, actor: actorOf(request, caller).name, rank, role });
      const p = result.promotion;
      auth.audit.record({
        actor: p.actor,
        source: context.request?.addr,
        action: 'promote',
        project: targetProject,
        repository: p.targetRepository,
        reference: p.targetTag ?? undefined,
        digest: p.digest,
        result: 'success',
        detail: { from: `${p.sourceRepository}:${p.sourceReference}`, ...(p.note ? { note: p.note } : {}) },
      });
      return reply.code(201).send({
        id: p.id,
        time: new Date(p.time).toISOString(),
        actor: p.actor,
        digest: p.digest,
        mediaType: result.mediaType,
        size: result.size,
        source: { repository: p.sourceRepository, reference: p.sourceReference },
        target: { repository: p.targetRepository, tag: p.targetTag },
        note: p.note,
        manifests: result.manifests,
        referrers: result.referrers,
        blobs: result.blobs,
      });
    },
  );

  app.get<{ Querystring: { repository: string; reference: string } }>(
    '/images/history',
    {
      schema: {
        summary: "an image's history across the repositories the caller may see: pushed to dev by alice, promoted to qa by bob, …",
        tags: ['promotion'],
        querystring: { type: 'object', required: ['repository', 'reference'], additionalProperties: false, properties: { repository, reference } },
        response: { 200: ref('ImageHistory') },
      },
    },
    async (request) => {
      const caller = await callers.of(request);
      const { repository: name, reference: ref } = request.query;
      await needProject(auth, caller, projectOf(name), 'pull');
      const digest = await workflow.resolve(name, ref);
      const canSee = canSeeProject(await pullFilterOf(auth, caller.principal));
      return { repository: name, digest, history: await workflow.history(digest, canSee) };
    },
  );

  app.get<{ Params: { project: string } }>(
    '/projects/:project/rules',
    { schema: { summary: "a project's stage rules and immutable tags", tags: ['promotion'], params: schemas.nameParam('project'), response: { 200: ref('StageRules') } } },
    async (request) => {
      await needProject(auth, await callers.of(request), request.params.project, 'pull');
      await auth.accounts.getProject(request.params.project);
      return workflow.rules.get(request.params.project);
    },
  );

  app.put<{ Params: { project: string }; Body: { promoteMinRole?: string | null; promoteFrom?: string | null; immutableTags?: string[] } }>(
    '/projects/:project/rules',
    {
      schema: {
        summary: 'set stage rules (who may promote in, which project an image must come from) and immutable tag patterns; absent fields stay',
        tags: ['promotion'],
        params: schemas.nameParam('project'),
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            promoteMinRole: { type: ['string', 'null'], enum: [...roles, null] },
            promoteFrom: { type: ['string', 'null'], minLength: 1, maxLength: 255 },
            immutableTags: { type: 'array', maxItems: 50, items: { type: 'string', minLength: 1, maxLength: 128 } },
          },
        },
        response: { 200: ref('StageRules') },
      },
    },
    async (request) => {
      const caller = await callers.of(request);
      await needProject(auth, caller, request.params.project, 'editProject');
      await auth.accounts.getProject(request.params.project);
      const actor = actorOf(request, caller);
      const rules = await workflow.rules.set(actor.name, request.params.project, request.body);
      auth.audit.record({ actor: actor.name, source: actor.source, action: 'project.rules', project: request.params.project, result: 'success', detail: { ...request.body } });
      return rules;
    },
  );
}
