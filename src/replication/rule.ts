import type { RuleRecord } from '../metadata/replication-rules.js';
import type { CopyContext, ImageOutcome } from './copy-context.js';
import type { RuleDefinition, StoredSpec } from './rule-spec.js';

/** A replication rule as the domain sees it (credentials stay sealed in the record). */
export interface Rule {
  id: string;
  name: string;
  enabled: boolean;
  /** Runs on a schedule every this many seconds, or null. */
  intervalSeconds: number | null;
  nextRunAt: number | null;
  /** The rule's bandwidth limit, or null for none. */
  bandwidthBytesPerSecond: number | null;
  definition: RuleDefinition;
  /** The sealed credentials of a push rule's target, or null. */
  sealedCredentials: string | null;
  createdAt: number;
  updatedAt: number;
  updatedBy: string;
}

export function ruleOf(record: RuleRecord): Rule {
  const { bandwidthBytesPerSecond, ...definition } = JSON.parse(record.spec) as StoredSpec;
  return {
    id: record.id,
    name: record.name,
    enabled: record.enabled,
    intervalSeconds: record.intervalSeconds,
    nextRunAt: record.nextRunAt,
    bandwidthBytesPerSecond,
    definition,
    sealedCredentials: record.credentials,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    updatedBy: record.updatedBy,
  };
}

/** One image a run covers; `error` marks what planning could not list (it fails in the log). */
export interface PlannedImage {
  repository: string;
  reference: string;
  error?: string;
}

/** A rule's work for one run: what to copy, and how to copy each image. */
export interface RunSession {
  /** The images a scheduled or manual run covers. */
  plan(): Promise<PlannedImage[]>;
  copy(image: { repository: string; reference: string }): Promise<ImageOutcome>;
  /** After the last image, when every planned image succeeded (pull rules drop pins here). */
  complete?(): Promise<void>;
  close(): void;
}

/** Pull or push: opens a session for a run of a rule. */
export interface RuleEngine {
  open(rule: Rule, context: CopyContext): Promise<RunSession>;
}
