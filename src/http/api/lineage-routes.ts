import type { FastifyInstance } from 'fastify';
import { projectOf } from '../../oci/names.js';
import { needProject } from './caller.js';
import type { ApiContext, DeliveryServices } from './context.js';
import { canSeeProject, pullFilterOf } from './read-access.js';
import { ref } from './schemas.js';

/** Base-image lineage: what an image is built on, what is built on it, and whether it is stale. */
export function lineageRoutes(app: FastifyInstance, { auth, callers, delivery }: ApiContext & { delivery: DeliveryServices }): void {
  app.get<{ Querystring: { repository: string; reference: string } }>(
    '/images/lineage',
    {
      schema: {
        summary: 'what an image is built on (to the root), what is built on it, and whether it is stale — across the projects the caller may see',
        tags: ['lineage'],
        querystring: {
          type: 'object',
          required: ['repository', 'reference'],
          additionalProperties: false,
          properties: { repository: { type: 'string', minLength: 1, maxLength: 255 }, reference: { type: 'string', minLength: 1, maxLength: 200, description: 'a tag or a digest' } },
        },
        response: { 200: ref('Lineage') },
      },
    },
    async (request) => {
      const caller = await callers.of(request);
      const { repository, reference } = request.query;
      await needProject(auth, caller, projectOf(repository), 'pull');
      const found = await delivery.workflow.resolve(repository, reference);
      return delivery.workflow.lineage(repository, found, canSeeProject(await pullFilterOf(auth, caller.principal)));
    },
  );
}
