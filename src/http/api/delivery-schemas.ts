/**
 * The named JSON schemas of the delivery flow's routes (webhooks; promotion, history, stage
 * rules and lineage), added to the API's named schemas (./schemas.ts).
 */
import { eventTypes } from '../../events/types.js';

const string = { type: 'string' } as const;
const nullableString = { type: ['string', 'null'] } as const;
const integer = { type: 'integer' } as const;
const time = { type: 'string', format: 'date-time' } as const;
const nullableTime = { type: ['string', 'null'], format: 'date-time' } as const;

export const deliverySchemas = {
  Webhook: {
    type: 'object',
    description: 'a webhook endpoint; its secret is never shown after creation',
    required: ['id', 'project', 'url', 'events', 'format', 'enabled', 'description', 'createdBy', 'createdAt', 'updatedAt'],
    properties: {
      id: string,
      project: { type: ['string', 'null'], description: 'null: registry-wide (every project, and gc.finished)' },
      url: string,
      events: { type: 'array', items: { type: 'string', enum: eventTypes } },
      format: { type: 'string', enum: ['wharf', 'distribution'], description: "distribution: CNCF Distribution's notification envelope" },
      enabled: { type: 'boolean' },
      description: nullableString,
      createdBy: string,
      createdAt: time,
      updatedAt: time,
    },
  },
  WebhookDelivery: {
    type: 'object',
    required: ['id', 'webhook', 'event', 'status', 'attempts', 'nextAttemptAt', 'lastAttemptAt', 'lastStatus', 'lastError', 'createdAt', 'deliveredAt', 'redeliveryOf'],
    properties: {
      id: string,
      webhook: string,
      event: { type: 'object', required: ['id', 'type'], properties: { id: string, type: string } },
      status: { type: 'string', enum: ['pending', 'delivered', 'failed'] },
      attempts: integer,
      nextAttemptAt: nullableTime,
      lastAttemptAt: nullableTime,
      lastStatus: { type: ['integer', 'null'], description: "the receiver's HTTP status" },
      lastError: nullableString,
      createdAt: time,
      deliveredAt: nullableTime,
      redeliveryOf: { type: ['string', 'null'], description: 'the delivery this one sends again' },
    },
  },
} as const;
