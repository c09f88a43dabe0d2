/**
 * The named JSON schemas of the management API. The API scope adds them with `addSchema`; routes
 * point at them with `ref('Name')`; each becomes `components.schemas.<Name>` in the OpenAPI
 * document and a type of the console (web/src/api-schema.ts, `npm run api-types`).
 *
 * Responses are serialized through these schemas: a property missing here is not sent, and a
 * property listed in `required` must always be present.
 */
import { repositoryActions, roles } from '../../auth/policy.js';
import { deliverySchemas } from './delivery-schemas.js';
import { replicationSchemas } from './replication-schemas.js';
import { policySchema } from '../../gc/policy.js';

const string = { type: 'string' } as const;
const nullableString = { type: ['string', 'null'] } as const;
const integer = { type: 'integer' } as const;
const strings = { type: 'array', items: string } as const;
const stringMap = { type: 'object', additionalProperties: string } as const;
const time = { type: 'string', format: 'date-time' } as const;
const epochMs = { type: 'integer', description: 'milliseconds since the epoch' } as const;
const nullableEpochMs = { type: ['integer', 'null'], description: 'milliseconds since the epoch' } as const;
const sized = { type: 'object', required: ['digest', 'size'], properties: { digest: string, size: integer } } as const;

/** A GC run's report: counts always, item lists only in a single run's view (GcRunDetail). */
const gcRunProperties = {
  id: string,
  status: { type: 'string', enum: ['running', 'finished', 'failed', 'interrupted'] },
  dryRun: { type: 'boolean' },
  trigger: { type: 'string', enum: ['schedule', 'api', 'cli'] },
  actor: string,
  project: nullableString,
  graceSeconds: integer,
  startedAt: time,
  finishedAt: { type: ['string', 'null'], format: 'date-time' },
  durationMs: { type: ['integer', 'null'] },
  tags: integer,
  manifests: integer,
  links: integer,
  blobs: integer,
  orphans: integer,
  uploads: integer,
  bytesFreed: { ...integer, description: 'bytes deleted from the store (dry run: that would be)' },
  failed: { ...integer, description: 'deletions that failed, left for the next run' },
  error: nullableString,
  truncated: { type: 'boolean', description: 'the stored item lists were cut at 10,000 each' },
} as const;
const gcRunRequired = [
  'id', 'status', 'dryRun', 'trigger', 'actor', 'project', 'graceSeconds', 'startedAt', 'finishedAt', 'durationMs',
  'tags', 'manifests', 'links', 'blobs', 'orphans', 'uploads', 'bytesFreed', 'failed', 'error',
] as const;


const sharedSchemas = {
  Errors: {
    type: 'object',
    description: "the registry's error envelope, on every error",
    required: ['errors'],
    properties: {
      errors: { type: 'array', items: { type: 'object', required: ['code', 'message'], properties: { code: string, message: string, detail: {} } } },
    },
  },
  User: { type: 'object', required: ['name', 'admin', 'createdAt'], properties: { name: string, admin: { type: 'boolean' }, createdAt: time } },
  Session: {
    type: 'object',
    required: ['user', 'csrfToken', 'authMode'],
    // user null: not signed in on an open registry (auth mode none).
    properties: { user: { anyOf: [{ $ref: 'User#' }, { type: 'null' }] }, csrfToken: nullableString, authMode: { type: 'string', enum: ['none', 'basic', 'token'] } },
  },
  Project: { type: 'object', required: ['name', 'public', 'createdAt'], properties: { name: string, public: { type: 'boolean' }, createdAt: time } },
  Member: { type: 'object', required: ['username', 'role', 'since'], properties: { username: string, role: { type: 'string', enum: roles }, since: time } },
  Robot: {
    type: 'object',
    required: ['name', 'project', 'actions', 'description', 'createdBy', 'createdAt', 'expiresAt', 'revokedAt'],
    properties: {
      name: string,
      project: string,
      actions: { type: 'array', items: { type: 'string', enum: repositoryActions } },
      description: nullableString,
      createdBy: string,
      createdAt: time,
      expiresAt: { type: ['string', 'null'], format: 'date-time' },
      revokedAt: { type: ['string', 'null'], format: 'date-time' },
    },
  },
  AuditEvent: {
    type: 'object',
    required: ['time', 'firstTime', 'count', 'actor', 'source', 'action', 'project', 'repository', 'reference', 'digest', 'result', 'detail'],
    properties: {
      time: { ...time, description: 'when it happened; for a row of several pulls, the last one' },
      firstTime: { type: ['string', 'null'], format: 'date-time', description: 'for a row of several pulls (count > 1 possible), the first one; else null' },
      count: { ...integer, description: 'pulls this row stands for (one manifest, reference and identity within one hour); 1 for other events' },
      actor: string,
      source: nullableString,
      action: string,
      project: nullableString,
      repository: nullableString,
      reference: nullableString,
      digest: nullableString,
      result: string,
      detail: { description: 'what else the event recorded (JSON), or null' },
    },
  },
  RepositorySummary: {
    type: 'object',
    required: ['name', 'tagCount', 'manifestCount', 'size', 'lastPush'],
    properties: { name: string, tagCount: integer, manifestCount: integer, size: { ...integer, description: 'bytes of the blobs it may serve, each once' }, lastPush: nullableEpochMs },
  },
  Platform: {
    type: 'object',
    required: ['os', 'architecture'],
    properties: { os: string, architecture: string, variant: string, osVersion: string },
  },
  Tag: {
    type: 'object',
    required: ['name', 'digest', 'mediaType', 'artifactType', 'size', 'platforms', 'pushedAt', 'lastPulledAt', 'pullCount'],
    properties: {
      name: string,
      digest: string,
      mediaType: string,
      artifactType: nullableString,
      size: { ...integer, description: 'compressed bytes: config and layers (an index: its children)' },
      platforms: { type: 'array', items: { $ref: 'Platform#' } },
      pushedAt: epochMs,
      lastPulledAt: nullableEpochMs,
      pullCount: { ...integer, description: 'manifest GETs so far (other instances\' within seconds)' },
    },
  },
  Layer: { type: 'object', required: ['digest', 'mediaType', 'size'], properties: { digest: string, mediaType: string, size: integer, createdBy: string } },
  History: { type: 'object', required: ['emptyLayer'], properties: { created: string, createdBy: string, comment: string, emptyLayer: { type: 'boolean' } } },
  ImageConfig: {
    type: 'object',
    required: ['env', 'entrypoint', 'cmd', 'labels', 'exposedPorts', 'volumes', 'history'],
    properties: {
      created: string,
      os: string,
      architecture: string,
      variant: string,
      author: string,
      user: string,
      workingDir: string,
      env: strings,
      entrypoint: strings,
      cmd: strings,
      labels: stringMap,
      exposedPorts: strings,
      volumes: strings,
      history: { type: 'array', items: { $ref: 'History#' } },
    },
  },
  Image: {
    type: 'object',
    required: [
      'repository', 'digest', 'mediaType', 'kind', 'manifestSize', 'size', 'artifactType', 'annotations', 'subject', 'tags',
      'pushedAt', 'lastPulledAt', 'pullCount', 'layers', 'config', 'configMediaType', 'manifests', 'platforms', 'referrers',
    ],
    properties: {
      repository: string,
      digest: string,
      mediaType: string,
      kind: { type: 'string', enum: ['image', 'index', 'other'] },
      manifestSize: integer,
      size: integer,
      artifactType: nullableString,
      annotations: stringMap,
      subject: nullableString,
      tags: strings,
      pushedAt: epochMs,
      lastPulledAt: nullableEpochMs,
      pullCount: { ...integer, description: 'manifest GETs so far (other instances\' within seconds)' },
      layers: { type: 'array', items: { $ref: 'Layer#' } },
      config: { anyOf: [{ $ref: 'ImageConfig#' }, { type: 'null' }] },
      configMediaType: nullableString,
      manifests: {
        type: 'array',
        items: {
          type: 'object',
          required: ['digest', 'mediaType', 'size'],
          properties: { digest: string, mediaType: string, size: integer, platform: { $ref: 'Platform#' }, annotations: stringMap },
        },
      },
      platforms: { type: 'array', items: { $ref: 'Platform#' } },
      referrers: {
        type: 'array',
        items: {
          type: 'object',
          required: ['artifactType', 'items'],
          properties: {
            artifactType: string,
            items: {
              type: 'array',
              items: { type: 'object', required: ['digest', 'mediaType', 'size'], properties: { digest: string, mediaType: string, size: integer, annotations: stringMap } },
            },
          },
        },
      },
    },
  },
  Usage: {
    type: 'object',
    required: ['projects'],
    properties: {
      projects: {
        type: 'array',
        items: { type: 'object', required: ['name', 'repositories', 'size'], properties: { name: string, repositories: integer, size: integer } },
      },
      counts: {
        type: 'object',
        description: 'registry-wide figures, for a caller who sees every project',
        required: ['repositories', 'tags', 'manifests', 'blobs', 'blobBytes'],
        properties: { repositories: integer, tags: integer, manifests: integer, blobs: integer, blobBytes: integer },
      },
      mirror: {
        type: 'object',
        description: "this process's mirror cache counters, when a mirror is configured",
        required: ['hits', 'misses', 'hitRate'],
        properties: { hits: integer, misses: integer, hitRate: { type: ['number', 'null'] } },
      },
    },
  },
  GcRun: { type: 'object', required: gcRunRequired, properties: gcRunProperties },
  GcRunDetail: {
    type: 'object',
    required: [...gcRunRequired, 'items'],
    properties: {
      ...gcRunProperties,
      items: {
        type: 'object',
        required: ['tags', 'manifests', 'links', 'blobs', 'orphans', 'uploads'],
        properties: {
          tags: {
            type: 'array',
            items: {
              type: 'object',
              required: ['repository', 'tag', 'digest', 'reason'],
              properties: { repository: string, tag: string, digest: string, reason: { type: 'string', enum: ['drop-pattern', 'beyond-latest', 'too-old', 'unpulled'] } },
            },
          },
          manifests: { type: 'array', items: { type: 'object', required: ['repository', 'digest', 'size'], properties: { repository: string, digest: string, size: integer } } },
          links: { type: 'array', items: { type: 'object', required: ['repository', 'digest'], properties: { repository: string, digest: string } } },
          blobs: { type: 'array', items: sized },
          orphans: { type: 'array', items: sized },
          uploads: { type: 'array', items: { type: 'object', required: ['id', 'size'], properties: { id: string, size: integer } } },
        },
      },
    },
  },
  GcStatus: {
    type: 'object',
    required: ['schedule', 'nextRunAt', 'graceSeconds', 'untaggedGraceHours', 'runs'],
    properties: {
      schedule: { ...string, description: 'gc.schedule: a cron expression, or "off"' },
      nextRunAt: { type: ['string', 'null'], format: 'date-time' },
      graceSeconds: integer,
      untaggedGraceHours: integer,
      runs: { type: 'array', items: { $ref: 'GcRun#' }, description: 'the latest runs, newest first' },
    },
  },
  ProjectQuota: {
    type: 'object',
    required: ['project', 'limitBytes', 'usedBytes', 'warnPercent'],
    properties: {
      project: string,
      limitBytes: { type: ['integer', 'null'], description: 'null: no quota' },
      usedBytes: { ...integer, description: 'bytes of the distinct blobs and manifests its repositories hold, each once' },
      warnPercent: { ...integer, description: 'usage share at which a quota.warning event is recorded' },
    },
  },
  ProjectPolicy: { ...policySchema, description: 'retention rules and untagged-manifest handling (docs/gc.md)' },
  ProjectPolicyView: {
    type: 'object',
    required: ['project', 'custom', 'policy', 'untaggedGraceHours'],
    properties: {
      project: string,
      custom: { type: 'boolean', description: 'false: no policy stored, the defaults apply' },
      policy: { $ref: 'ProjectPolicy#' },
      untaggedGraceHours: { ...integer, description: 'the untagged grace in effect (the policy\'s, else gc.untaggedGraceHours)' },
    },
  },
} as const;

const allSchemas = { ...sharedSchemas, ...deliverySchemas, ...replicationSchemas };

export type SchemaName = keyof typeof allSchemas;

/** The schemas with their `$id`, for `addSchema`. */
export function namedSchemas(): Array<{ $id: SchemaName } & Record<string, unknown>> {
  return Object.entries(allSchemas).map(([id, schema]) => ({ $id: id as SchemaName, ...schema }));
}

/** A reference to a named schema, in a route's schema. */
export const ref = (name: SchemaName) => ({ $ref: `${name}#` }) as const;

/** `{ <key>: [<Name>] }`: the list answers (`{"users":[…]}`). */
export const listOf = (key: string, name: SchemaName) =>
  ({ type: 'object', required: [key], properties: { [key]: { type: 'array', items: ref(name) } } }) as const;

/** `{ items: [<Name>], total }`: the paged answers. */
export const pageOf = (name: SchemaName) =>
  ({ type: 'object', required: ['items', 'total'], properties: { items: { type: 'array', items: ref(name) }, total: integer } }) as const;

/** Answers without a body. */
export const noContent = { 204: { description: 'no content', type: 'null' } } as const;

export const nameParam = (...names: string[]) => ({
  type: 'object',
  required: names,
  properties: Object.fromEntries(names.map((n) => [n, { type: 'string', minLength: 1, maxLength: 256 }])),
});
