/**
 * The named JSON schemas of the replication routes, added to the API's named schemas
 * (./schemas.ts). A rule's input, and the pull and push sections of a rule, come from the zod
 * schema the service validates with (src/replication/rule-input.ts), so the API, the OpenAPI
 * document, the console's types and `wharf replicate` agree on one definition.
 */
import { z } from 'zod';
import { pullSpecSchema, pushSpecSchema, ruleInputSchema } from '../../replication/rule-input.js';

const string = { type: 'string' } as const;
const nullableString = { type: ['string', 'null'] } as const;
const integer = { type: 'integer' } as const;
const time = { type: 'string', format: 'date-time' } as const;
const nullableTime = { type: ['string', 'null'], format: 'date-time' } as const;

/** A zod schema as plain JSON schema (draft 7, without `$schema`). */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'draft-7', io }) as Record<string, unknown>;
  return rest;
}

const runStatus = { type: 'string', enum: ['queued', 'running', 'succeeded', 'failed'] } as const;

export const replicationSchemas = {
  ReplicationRuleInput: { ...jsonSchema(ruleInputSchema, 'input'), description: 'a pull rule (kind pull, a pull section) or a push rule (kind push, a push section)' },
  ReplicationRule: {
    type: 'object',
    description: 'a replication rule; its credentials are never shown, only whether it has some',
    required: ['id', 'name', 'kind', 'enabled', 'intervalSeconds', 'nextRunAt', 'bandwidthBytesPerSecond', 'pull', 'push', 'hasCredentials', 'createdAt', 'updatedAt', 'updatedBy', 'lastRun'],
    properties: {
      id: string,
      name: string,
      kind: { type: 'string', enum: ['pull', 'push'] },
      enabled: { type: 'boolean' },
      intervalSeconds: { type: ['integer', 'null'], description: 'runs every this many seconds; null: no schedule' },
      nextRunAt: { ...nullableTime, description: 'when the schedule runs it next' },
      bandwidthBytesPerSecond: { type: ['integer', 'null'] },
      pull: { anyOf: [jsonSchema(pullSpecSchema, 'output'), { type: 'null' }] },
      push: { anyOf: [jsonSchema(pushSpecSchema, 'output'), { type: 'null' }] },
      hasCredentials: { type: 'boolean' },
      createdAt: time,
      updatedAt: time,
      updatedBy: string,
      lastRun: { anyOf: [{ $ref: 'ReplicationRun#' }, { type: 'null' }] },
    },
  },
  ReplicationRun: {
    type: 'object',
    description: "one execution of a rule: its images, bytes and errors, updated while it runs",
    required: ['id', 'rule', 'trigger', 'actor', 'status', 'createdAt', 'startedAt', 'finishedAt', 'updatedAt', 'resumed', 'images', 'bytes', 'blobs', 'error'],
    properties: {
      id: string,
      rule: { ...nullableString, description: 'the rule name (null: the rule was deleted)' },
      trigger: { type: 'string', enum: ['schedule', 'manual', 'push', 'promotion'] },
      actor: string,
      status: runStatus,
      createdAt: time,
      startedAt: nullableTime,
      finishedAt: nullableTime,
      updatedAt: time,
      resumed: { ...integer, description: 'how many times an instance took the run over after its runner stopped' },
      images: {
        type: 'object',
        required: ['total', 'done', 'skipped', 'failed'],
        properties: { total: integer, done: { ...integer, description: 'copied' }, skipped: { ...integer, description: 'already up to date' }, failed: integer },
      },
      bytes: { ...integer, description: 'bytes moved so far' },
      blobs: { type: 'object', required: ['copied', 'skipped'], properties: { copied: integer, skipped: { ...integer, description: 'already there (or mounted)' } } },
      error: nullableString,
    },
  },
  ReplicationRunItem: {
    type: 'object',
    required: ['seq', 'repository', 'reference', 'digest', 'status', 'bytes', 'attempts', 'error', 'updatedAt'],
    properties: {
      seq: integer,
      repository: string,
      reference: { ...string, description: 'a tag or a digest ("*": the repository could not be listed)' },
      digest: nullableString,
      status: { type: 'string', enum: ['pending', 'running', 'done', 'skipped', 'failed'] },
      bytes: integer,
      attempts: integer,
      error: nullableString,
      updatedAt: time,
    },
  },
  ReplicationPin: {
    type: 'object',
    description: 'a tag a pull rule keeps in the mirror cache',
    required: ['repository', 'tag', 'digests'],
    properties: { repository: { ...string, description: 'the mirror repository (hub/library/node)' }, tag: string, digests: { ...integer, description: 'manifests and blobs pinned for it' } },
  },
} as const;
