import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { DeliveryStatus } from '../../metadata/outbox.js';
import type { WebhookFormat } from '../../metadata/webhook-endpoints.js';
import type { WebhookInput } from '../../events/webhooks.js';
import { eventTypes } from '../../events/types.js';
import { actorOf, needProject, needSystem, type Caller } from './caller.js';
import { schemas, type ApiContext, type DeliveryServices } from './context.js';
import { listOf, noContent, ref } from './schemas.js';

const tags = ['webhooks'];
const webhook = ref('Webhook');
const delivery = ref('WebhookDelivery');

const editable = {
  url: { type: 'string', minLength: 1, maxLength: 2000 },
  events: { type: 'array', maxItems: eventTypes.length, items: { type: 'string', enum: [...eventTypes] } },
  format: { type: 'string', enum: ['wharf', 'distribution'] },
  secret: { type: 'string', minLength: 16, maxLength: 256, description: 'HMAC-SHA256 key; absent on create: generated and returned once' },
  description: { type: ['string', 'null'], maxLength: 500 },
  enabled: { type: 'boolean' },
} as const;

const withSecret = { type: 'object', required: ['webhook'], properties: { webhook, secret: { type: 'string', description: 'a generated secret, shown only in this answer' } } } as const;
const idParam = schemas.nameParam('id');

type Body = { url?: string; events?: string[]; format?: WebhookFormat; secret?: string; rotateSecret?: boolean; description?: string | null; enabled?: boolean };

/** Webhook endpoints and their delivery logs: project admins for their project, system admins for all and registry-wide ones. */
export function webhookRoutes(app: FastifyInstance, { auth, callers, delivery: services }: ApiContext & { delivery: DeliveryServices }): void {
  const { webhooks } = services;
  const authorize = async (caller: Caller, project: string | null) => {
    if (project === null) needSystem(auth, caller, 'manageWebhooks');
    else await needProject(auth, caller, project, 'manageWebhooks');
  };
  /** The endpoint, once the caller may manage it (else 401/403; 404 only after that, so ids do not leak). */
  const endpoint = async (request: FastifyRequest, id: string) => {
    const caller = await callers.of(request);
    const found = await webhooks.get(id).catch((error: unknown) => {
      // Only those who may see every endpoint learn that an id does not exist.
      needSystem(auth, caller, 'manageWebhooks');
      throw error;
    });
    await authorize(caller, found.project);
    return { caller, found };
  };
  const audit = (request: FastifyRequest, caller: Caller, action: string, project: string | null, detail: Record<string, unknown>) => {
    const who = actorOf(request, caller);
    auth.audit.record({ actor: who.name, source: who.source, action, project: project ?? undefined, result: 'success', detail });
  };

  app.get<{ Querystring: { project?: string } }>(
    '/webhooks',
    {
      schema: {
        summary: 'webhook endpoints: of one project (?project=), or all of them (system admins)',
        tags,
        querystring: { type: 'object', additionalProperties: false, properties: { project: { type: 'string', minLength: 1, maxLength: 256 } } },
        response: { 200: listOf('webhooks', 'Webhook') },
      },
    },
    async (request) => {
      const caller = await callers.of(request);
      const project = request.query.project;
      if (project === undefined) needSystem(auth, caller, 'manageWebhooks');
      else await authorize(caller, project);
      return { webhooks: await webhooks.list(project) };
    },
  );

  app.post<{ Body: Body & { url: string; project?: string | null } }>(
    '/webhooks',
    {
      schema: {
        summary: 'create a webhook endpoint (project null or absent: registry-wide, system admins); the generated secret is in this answer only',
        tags,
        body: { type: 'object', required: ['url'], additionalProperties: false, properties: { project: { type: ['string', 'null'], minLength: 1, maxLength: 256 }, ...editable } },
        response: { 201: withSecret },
      },
    },
    async (request, reply) => {
      const caller = await callers.of(request);
      const { project = null, ...input } = request.body;
      await authorize(caller, project);
      const created = await webhooks.create(actorOf(request, caller).name, project, input);
      audit(request, caller, 'webhook.create', project, { id: created.webhook.id, url: created.webhook.url, events: created.webhook.events });
      return reply.code(201).send(created);
    },
  );

  app.get<{ Params: { id: string } }>('/webhooks/:id', { schema: { summary: 'one webhook endpoint', tags, params: idParam, response: { 200: webhook } } }, async (request) => {
    return (await endpoint(request, request.params.id)).found;
  });

  app.patch<{ Params: { id: string }; Body: Body }>(
    '/webhooks/:id',
    {
      schema: {
        summary: 'change a webhook endpoint; rotateSecret: true generates a new secret, returned in this answer only',
        tags,
        params: idParam,
        body: { type: 'object', additionalProperties: false, properties: { ...editable, rotateSecret: { type: 'boolean' } } },
        response: { 200: withSecret },
      },
    },
    async (request) => {
      const { caller, found } = await endpoint(request, request.params.id);
      const updated = await webhooks.update(found.id, request.body as WebhookInput);
      audit(request, caller, 'webhook.update', found.project, { id: found.id, changed: Object.keys(request.body).filter((k) => k !== 'secret'), secretChanged: request.body.secret !== undefined || request.body.rotateSecret === true });
      return updated;
    },
  );

  app.delete<{ Params: { id: string } }>('/webhooks/:id', { schema: { summary: 'remove a webhook endpoint and its delivery log', tags, params: idParam, response: noContent } }, async (request, reply) => {
    const { caller, found } = await endpoint(request, request.params.id);
    await webhooks.remove(found.id);
    audit(request, caller, 'webhook.delete', found.project, { id: found.id, url: found.url });
    return reply.code(204).send();
  });

  app.get<{ Params: { id: string }; Querystring: { status?: DeliveryStatus; limit?: number; offset?: number } }>(
    '/webhooks/:id/deliveries',
    {
      schema: {
        summary: "an endpoint's delivery log, newest first",
        tags,
        params: idParam,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { status: { type: 'string', enum: ['pending', 'delivered', 'failed'] }, limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 }, offset: { type: 'integer', minimum: 0, default: 0 } },
        },
        response: { 200: { type: 'object', required: ['total', 'deliveries'], properties: { total: { type: 'integer' }, deliveries: { type: 'array', items: delivery } } } },
      },
    },
    async (request) => {
      const { found } = await endpoint(request, request.params.id);
      const { status, limit = 50, offset = 0 } = request.query;
      const page = await webhooks.deliveries(found.id, { ...(status ? { status } : {}), limit, offset });
      return { total: page.total, deliveries: page.items };
    },
  );

  app.get<{ Params: { id: string; delivery: string } }>(
    '/webhooks/:id/deliveries/:delivery/event',
    { schema: { summary: 'the event a delivery carries (wharf format)', tags, params: schemas.nameParam('id', 'delivery'), response: { 200: { type: 'object', additionalProperties: true, description: 'the event as the wharf format sends it (docs/webhooks.md)' } } } },
    async (request) => {
      const { found } = await endpoint(request, request.params.id);
      return webhooks.deliveryEvent(found.id, request.params.delivery);
    },
  );

  app.post<{ Params: { id: string; delivery: string } }>(
    '/webhooks/:id/deliveries/:delivery/redeliver',
    { schema: { summary: 'send a delivery\'s event again (a new delivery in the log)', tags, params: schemas.nameParam('id', 'delivery'), response: { 202: { type: 'object', required: ['delivery'], properties: { delivery } } } } },
    async (request, reply) => {
      const { caller, found } = await endpoint(request, request.params.id);
      const created = await webhooks.redeliver(found.id, request.params.delivery);
      audit(request, caller, 'webhook.redeliver', found.project, { id: found.id, delivery: request.params.delivery });
      return reply.code(202).send({ delivery: created });
    },
  );
}
