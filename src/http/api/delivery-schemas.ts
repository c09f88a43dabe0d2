/**
 * The named JSON schemas of the delivery flow's routes (webhooks; promotion, history, stage
 * rules and lineage), added to the API's named schemas (./schemas.ts).
 */
import { roles } from '../../auth/policy.js';
import { eventTypes } from '../../events/types.js';

const string = { type: 'string' } as const;
const nullableString = { type: ['string', 'null'] } as const;
const integer = { type: 'integer' } as const;
const time = { type: 'string', format: 'date-time' } as const;
const nullableTime = { type: ['string', 'null'], format: 'date-time' } as const;
const strings = { type: 'array', items: string } as const;
const staleReasons = { type: 'array', items: { $ref: 'StaleReason#' }, description: 'tags that pointed at the base and moved on' } as const;

/** What ImageLineage and PlatformLineage share. */
const imageLineage = {
  repository: string,
  digest: string,
  builtOn: { type: 'array', description: 'from the direct base to the root', items: { $ref: 'BaseImage#' } },
  usedBy: {
    type: 'array',
    description: 'images built directly on this one (an index: on any of its platforms)',
    items: { type: 'object', required: ['repository', 'digest', 'tags', 'stale'], properties: { repository: string, digest: string, tags: strings, stale: { type: 'boolean' } } },
  },
  stale: { type: 'boolean', description: 'built on a digest its base tag no longer points at' },
  staleBecause: staleReasons,
} as const;
const imageLineageRequired = ['repository', 'digest', 'builtOn', 'usedBy', 'stale', 'staleBecause'] as const;

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
  Promotion: {
    type: 'object',
    required: ['id', 'time', 'actor', 'digest', 'mediaType', 'size', 'source', 'target', 'note', 'manifests', 'referrers', 'blobs'],
    properties: {
      id: string,
      time,
      actor: string,
      digest: string,
      mediaType: string,
      size: integer,
      source: { type: 'object', required: ['repository', 'reference'], properties: { repository: string, reference: string } },
      target: { type: 'object', required: ['repository', 'tag'], properties: { repository: string, tag: nullableString } },
      note: nullableString,
      manifests: { ...integer, description: 'manifests copied: the image, index children, referrers, tag attachments' },
      referrers: integer,
      blobs: { ...integer, description: 'blob links of the target for them (no bytes are copied)' },
    },
  },
  HistoryEntry: {
    type: 'object',
    description: 'pushed to dev/app:1.0 by alice; promoted to qa/app:1.0 by bob',
    required: ['time', 'action', 'actor', 'repository', 'tag', 'from', 'note'],
    properties: {
      time,
      action: { type: 'string', enum: ['pushed', 'promoted', 'tagged'], description: 'tagged: what the tag pointed at when history began' },
      actor: nullableString,
      repository: string,
      tag: nullableString,
      from: {
        anyOf: [{ type: 'object', required: ['repository', 'reference'], properties: { repository: { ...nullableString, description: 'null: a project the caller may not see' }, reference: string } }, { type: 'null' }],
      },
      note: nullableString,
    },
  },
  ImageHistory: {
    type: 'object',
    required: ['repository', 'digest', 'history'],
    properties: { repository: string, digest: string, history: { type: 'array', items: { $ref: 'HistoryEntry#' } } },
  },
  StageRules: {
    type: 'object',
    required: ['project', 'promoteMinRole', 'promoteFrom', 'immutableTags', 'updatedBy', 'updatedAt'],
    properties: {
      project: string,
      promoteMinRole: { type: ['string', 'null'], enum: [...roles, null], description: 'lowest role that may promote in (testers rank above developers); null: whoever may promote' },
      promoteFrom: { ...nullableString, description: 'only digests promoted into this project first may be promoted here' },
      immutableTags: { ...strings, description: 'tag patterns (* and ?) that never move and cannot be deleted' },
      updatedBy: nullableString,
      updatedAt: nullableTime,
    },
  },
  StaleReason: {
    type: 'object',
    required: ['repository', 'tag', 'was', 'now'],
    properties: { repository: string, tag: string, was: string, now: string },
  },
  BaseImage: {
    type: 'object',
    required: ['repository', 'digest', 'tags', 'name', 'source', 'movedOn'],
    properties: {
      repository: { ...nullableString, description: 'null: a base the caller may not see, or outside this registry' },
      digest: string,
      tags: strings,
      name: { ...nullableString, description: 'org.opencontainers.image.base.name, when the image names its base' },
      source: { type: 'string', enum: ['annotation', 'layers'] },
      movedOn: staleReasons,
    },
  },
  ImageLineage: { type: 'object', required: imageLineageRequired, properties: imageLineage },
  Lineage: {
    type: 'object',
    required: [...imageLineageRequired, 'platforms'],
    properties: { ...imageLineage, platforms: { type: 'array', description: "an index: each platform's lineage", items: { $ref: 'PlatformLineage#' } } },
  },
  PlatformLineage: { type: 'object', required: [...imageLineageRequired, 'platform'], properties: { ...imageLineage, platform: nullableString } },
} as const;
