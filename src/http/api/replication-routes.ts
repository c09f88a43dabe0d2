import type { FastifyInstance } from 'fastify';
import type { RunItem, RunRecord } from '../../metadata/replication-runs.js';
import type { ReplicationService, RuleView } from '../../replication/service.js';
import { actorOf, needSystem } from './caller.js';
import type { ApiContext } from './context.js';
import { nameParam, noContent, ref } from './schemas.js';

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

/** A run as the API shows it (`rule`: its rule's name, null once the rule is gone). */
export function runJson(run: RunRecord, rule: string | null) {
  return {
    id: run.id,
    rule,
    trigger: run.trigger,
    actor: run.actor,
    status: run.status,
    createdAt: iso(run.createdAt),
    startedAt: isoOrNull(run.startedAt),
    finishedAt: isoOrNull(run.finishedAt),
    updatedAt: iso(run.updatedAt),
    resumed: run.resumed,
    images: { total: run.imagesTotal, done: run.imagesDone, skipped: run.imagesSkipped, failed: run.imagesFailed },
    bytes: run.bytes,
    blobs: { copied: run.blobsCopied, skipped: run.blobsSkipped },
    error: run.error,
  };
}

const ruleJson = (rule: RuleView) => ({
  ...rule,
  nextRunAt: isoOrNull(rule.nextRunAt),
  createdAt: iso(rule.createdAt),
  updatedAt: iso(rule.updatedAt),
  lastRun: rule.lastRun && runJson(rule.lastRun, rule.name),
});

const itemJson = (item: RunItem) => ({ ...item, updatedAt: iso(item.updatedAt) });

const page = {
  type: 'object',
  additionalProperties: false,
  properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 }, offset: { type: 'integer', minimum: 0, default: 0 } },
} as const;

const pageOf = (name: 'ReplicationRun' | 'ReplicationRunItem') =>
  ({ type: 'object', required: ['items', 'total'], properties: { items: { type: 'array', items: ref(name) }, total: { type: 'integer' } } }) as const;

/** Replication rules and their runs (docs/replication.md): system admins only. */
export function replicationRoutes(app: FastifyInstance, { auth, callers, replication }: ApiContext & { replication: ReplicationService }): void {
  const tags = ['replication'];
  const rule = nameParam('rule');
  const admin = async (request: Parameters<typeof callers.of>[0]) => {
    const caller = await callers.of(request);
    needSystem(auth, caller, 'manageReplication');
    return actorOf(request, caller);
  };
  const ruleNames = async () => new Map((await replication.listRules()).map((r) => [r.id, r.name]));

  app.get('/replication/rules', { schema: { summary: 'replication rules, each with its last run', tags, response: { 200: { type: 'object', required: ['rules'], properties: { rules: { type: 'array', items: ref('ReplicationRule') } } } } } }, async (request) => {
    await admin(request);
    return { rules: (await replication.listRules()).map(ruleJson) };
  });

  app.post<{ Body: unknown }>(
    '/replication/rules',
    { schema: { summary: 'create a pull or push rule (credentials are stored encrypted, never shown again)', tags, body: ref('ReplicationRuleInput'), response: { 201: ref('ReplicationRule') } } },
    async (request, reply) => reply.code(201).send(ruleJson(await replication.createRule(await admin(request), request.body))),
  );

  app.get<{ Params: { rule: string } }>('/replication/rules/:rule', { schema: { summary: 'one rule', tags, params: rule, response: { 200: ref('ReplicationRule') } } }, async (request) => {
    await admin(request);
    return ruleJson(await replication.getRule(request.params.rule));
  });

  app.put<{ Params: { rule: string }; Body: unknown }>(
    '/replication/rules/:rule',
    { schema: { summary: 'replace a rule (credentials absent: kept; null: removed)', tags, params: rule, body: ref('ReplicationRuleInput'), response: { 200: ref('ReplicationRule') } } },
    async (request) => ruleJson(await replication.updateRule(await admin(request), request.params.rule, request.body)),
  );

  app.delete<{ Params: { rule: string } }>(
    '/replication/rules/:rule',
    { schema: { summary: 'delete a rule (its pinned images become ordinary cache entries; its runs stay in the log)', tags, params: rule, response: noContent } },
    async (request, reply) => {
      await replication.deleteRule(await admin(request), request.params.rule);
      return reply.code(204).send();
    },
  );

  app.post<{ Params: { rule: string } }>(
    '/replication/rules/:rule/runs',
    { schema: { summary: 'run a rule now (disabled rules too); the run starts on an instance within moments', tags, params: rule, response: { 202: ref('ReplicationRun') } } },
    async (request, reply) => {
      const run = await replication.runNow(await admin(request), request.params.rule);
      return reply.code(202).send(runJson(run, request.params.rule));
    },
  );

  app.get<{ Params: { rule: string } }>(
    '/replication/rules/:rule/pins',
    { schema: { summary: 'the tags a pull rule keeps pinned in the mirror cache', tags, params: rule, response: { 200: { type: 'object', required: ['pins'], properties: { pins: { type: 'array', items: ref('ReplicationPin') } } } } } },
    async (request) => {
      await admin(request);
      return { pins: await replication.pins(request.params.rule) };
    },
  );

  app.get<{ Querystring: { rule?: string; limit: number; offset: number } }>(
    '/replication/runs',
    {
      schema: {
        summary: 'runs, newest first (rule narrows to one rule)',
        tags,
        querystring: { ...page, properties: { ...page.properties, rule: { type: 'string', minLength: 1, maxLength: 64 } } },
        response: { 200: pageOf('ReplicationRun') },
      },
    },
    async (request) => {
      await admin(request);
      const { rule: name, limit, offset } = request.query;
      const { runs, total } = await replication.listRuns({ ...(name !== undefined ? { rule: name } : {}), limit, offset });
      const names = await ruleNames();
      return { items: runs.map((r) => runJson(r, names.get(r.ruleId) ?? null)), total };
    },
  );

  app.get<{ Params: { run: string } }>('/replication/runs/:run', { schema: { summary: 'one run, with its counters as they are now', tags, params: nameParam('run'), response: { 200: ref('ReplicationRun') } } }, async (request) => {
    await admin(request);
    const run = await replication.getRun(request.params.run);
    return runJson(run, (await ruleNames()).get(run.ruleId) ?? null);
  });

  app.get<{ Params: { run: string }; Querystring: { limit: number; offset: number } }>(
    '/replication/runs/:run/items',
    { schema: { summary: "a run's images in plan order: state, bytes, attempts, errors", tags, params: nameParam('run'), querystring: page, response: { 200: pageOf('ReplicationRunItem') } } },
    async (request) => {
      await admin(request);
      const { items, total } = await replication.runItems(request.params.run, request.query);
      return { items: items.map(itemJson), total };
    },
  );
}
