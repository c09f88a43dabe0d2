import { randomUUID } from 'node:crypto';
import { RegistryError } from '../errors.js';
import type { PinnedTag } from '../metadata/replication-content.js';
import type { RuleRecord } from '../metadata/replication-rules.js';
import type { RunItem, RunRecord } from '../metadata/replication-runs.js';
import type { MetadataStore } from '../metadata/store.js';
import type { SecretBox } from '../lib/secret-box.js';
import { sealCredentials } from './credentials.js';
import { DEFAULT_PULL_INTERVAL_SECONDS, ruleInputSchema, type ParsedRuleInput } from './rule-input.js';
import { ruleOf, type Rule } from './rule.js';
import { validateDefinition, type PullSpec, type PushSpec, type RuleDefinition, type StoredSpec } from './rule-spec.js';

/** Who asks for a change (recorded on the rule and in the audit log). */
export interface ReplicationActor {
  name: string;
  source?: string;
}

/** A rule as the API and the CLI show it: never its credentials, only whether it has some. */
export interface RuleView {
  id: string;
  name: string;
  kind: 'pull' | 'push';
  enabled: boolean;
  intervalSeconds: number | null;
  nextRunAt: number | null;
  bandwidthBytesPerSecond: number | null;
  pull: PullSpec | null;
  push: PushSpec | null;
  hasCredentials: boolean;
  createdAt: number;
  updatedAt: number;
  updatedBy: string;
  lastRun: RunRecord | null;
}

export interface ReplicationService {
  listRules(): Promise<RuleView[]>;
  getRule(name: string): Promise<RuleView>;
  createRule(actor: ReplicationActor, input: unknown): Promise<RuleView>;
  /** Replaces the rule's definition (credentials absent: kept). */
  updateRule(actor: ReplicationActor, name: string, input: unknown): Promise<RuleView>;
  /** Removes the rule, its pins (the pinned images become ordinary cache entries) and its queue. */
  deleteRule(actor: ReplicationActor, name: string): Promise<void>;
  /** Queues a run by hand (disabled rules too); an instance picks it up at once. */
  runNow(actor: ReplicationActor, name: string): Promise<RunRecord>;
  listRuns(query: { rule?: string; limit: number; offset: number }): Promise<{ runs: RunRecord[]; total: number }>;
  getRun(id: string): Promise<RunRecord>;
  runItems(id: string, page: { limit: number; offset: number }): Promise<{ items: RunItem[]; total: number }>;
  /** What a pull rule keeps pinned in the mirror cache. */
  pins(name: string): Promise<PinnedTag[]>;
}

export interface ReplicationServiceDeps {
  metadata: MetadataStore;
  secrets: SecretBox;
  /** Names of the configured mirror upstreams (pull rules name one). */
  upstreams: ReadonlySet<string>;
  now: () => number;
  /** A rule changed or a run was asked for: look for work now. */
  onChange?: () => void;
  /** Records the change in the audit log. */
  audit?: (actor: ReplicationActor, action: string, rule: string, detail?: Record<string, unknown>) => void;
}

const notFound = (name: string) => new RegistryError('NOT_FOUND', `no replication rule named ${name}`, { detail: { rule: name } });

/** Parses a client's rule: shape (zod, the API's JSON schema too), then names, patterns and URLs. */
function parseInput(input: unknown, upstreams: ReadonlySet<string>): ParsedRuleInput & { definition: RuleDefinition } {
  const parsed = ruleInputSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    throw new RegistryError('INVALID_REQUEST', `invalid rule: ${where}${issue.message}`, { detail: { path: issue.path.map(String) } });
  }
  const value = parsed.data;
  let definition: RuleDefinition;
  if (value.kind === 'pull') {
    if (!value.pull || value.push) throw new RegistryError('INVALID_REQUEST', 'a pull rule has a "pull" section and no "push" section');
    if (value.credentials) throw new RegistryError('INVALID_REQUEST', 'pull rules use the mirror upstream\'s credentials (mirror.upstreams[].username/password)');
    definition = { kind: 'pull', pull: { ...value.pull, repositories: value.pull.repositories.map((r) => ({ name: r.name, tags: r.tags ?? null })) } };
  } else {
    if (!value.push || value.pull) throw new RegistryError('INVALID_REQUEST', 'a push rule has a "push" section and no "pull" section');
    definition = { kind: 'push', push: { ...value.push, triggers: value.push.triggers as PushSpec['triggers'] } };
  }
  validateDefinition(definition, upstreams);
  return { ...value, definition };
}

export function replicationService(deps: ReplicationServiceDeps): ReplicationService {
  const { metadata, now } = deps;
  const rules = metadata.replicationRules;

  async function record(name: string): Promise<RuleRecord> {
    const found = await rules.getByName(name);
    if (!found) throw notFound(name);
    return found;
  }

  async function view(rule: Rule): Promise<RuleView> {
    const last = await metadata.replicationRuns.list({ ruleId: rule.id, limit: 1, offset: 0 });
    const { definition } = rule;
    return {
      id: rule.id,
      name: rule.name,
      kind: definition.kind,
      enabled: rule.enabled,
      intervalSeconds: rule.intervalSeconds,
      nextRunAt: rule.nextRunAt,
      bandwidthBytesPerSecond: rule.bandwidthBytesPerSecond,
      pull: definition.kind === 'pull' ? definition.pull : null,
      push: definition.kind === 'push' ? definition.push : null,
      hasCredentials: rule.sealedCredentials !== null,
      createdAt: rule.createdAt,
      updatedAt: rule.updatedAt,
      updatedBy: rule.updatedBy,
      lastRun: last.runs[0] ?? null,
    };
  }

  /** The stored row for `input`; `previous` keeps credentials and the schedule's place. */
  function toRecord(actor: ReplicationActor, input: ReturnType<typeof parseInput>, previous: RuleRecord | undefined): RuleRecord {
    const at = now();
    const interval = input.intervalSeconds !== undefined ? input.intervalSeconds : input.kind === 'pull' ? DEFAULT_PULL_INTERVAL_SECONDS : null;
    const spec: StoredSpec = { ...input.definition, bandwidthBytesPerSecond: input.bandwidthBytesPerSecond };
    const credentials = input.credentials === undefined ? (previous?.credentials ?? null) : input.credentials === null ? null : sealCredentials(deps.secrets, input.credentials);
    return {
      id: previous?.id ?? randomUUID(),
      name: input.name,
      kind: input.kind,
      enabled: input.enabled,
      spec: JSON.stringify(spec),
      credentials: input.kind === 'push' ? credentials : null,
      intervalSeconds: interval,
      // A new or changed scheduled rule runs soon, then every interval.
      nextRunAt: interval === null ? null : at,
      createdAt: previous?.createdAt ?? at,
      updatedAt: at,
      updatedBy: actor.name,
    };
  }

  async function findRun(id: string): Promise<RunRecord> {
    const run = await metadata.replicationRuns.get(id);
    if (!run) throw new RegistryError('NOT_FOUND', `no replication run ${id}`, { detail: { run: id } });
    return run;
  }

  return {
    async listRules() {
      return Promise.all((await rules.list()).map((r) => view(ruleOf(r))));
    },
    async getRule(name) {
      return view(ruleOf(await record(name)));
    },
    async createRule(actor, input) {
      const parsed = parseInput(input, deps.upstreams);
      if (await rules.getByName(parsed.name)) throw new RegistryError('CONFLICT', `a replication rule named ${parsed.name} exists`, { detail: { rule: parsed.name } });
      const created = toRecord(actor, parsed, undefined);
      await rules.create(created);
      deps.audit?.(actor, 'replication.rule.create', created.name, { kind: created.kind });
      deps.onChange?.();
      return view(ruleOf(created));
    },
    async updateRule(actor, name, input) {
      const previous = await record(name);
      const parsed = parseInput(input, deps.upstreams);
      if (parsed.kind !== previous.kind) throw new RegistryError('INVALID_REQUEST', `rule ${name} is a ${previous.kind} rule; its kind cannot change`);
      if (parsed.name !== name && (await rules.getByName(parsed.name))) throw new RegistryError('CONFLICT', `a replication rule named ${parsed.name} exists`, { detail: { rule: parsed.name } });
      const updated = toRecord(actor, parsed, previous);
      // Pins of repositories a pull rule no longer names go at its next run (it knows their cache names).
      await rules.update(updated);
      deps.audit?.(actor, 'replication.rule.update', updated.name, { renamedFrom: parsed.name !== name ? name : undefined });
      deps.onChange?.();
      return view(ruleOf(updated));
    },
    async deleteRule(actor, name) {
      const found = await record(name);
      await metadata.transaction((tx) => tx.replicationRules.remove(found.id));
      deps.audit?.(actor, 'replication.rule.delete', name);
      deps.onChange?.();
    },
    async runNow(actor, name) {
      const found = await record(name);
      const id = randomUUID();
      await metadata.replicationRuns.create({ id, ruleId: found.id, trigger: 'manual', actor: actor.name, createdAt: now() });
      deps.audit?.(actor, 'replication.run', name, { run: id });
      deps.onChange?.();
      return findRun(id);
    },
    listRuns: async ({ rule, limit, offset }) => metadata.replicationRuns.list({ ...(rule !== undefined ? { ruleId: (await record(rule)).id } : {}), limit, offset }),
    getRun: findRun,
    async runItems(id, page) {
      await findRun(id);
      return metadata.replicationRuns.items(id, page);
    },
    async pins(name) {
      return metadata.replicationPins.list((await record(name)).id);
    },
  };
}
