import type { ProjectPolicies } from './policies.js';
import type { ProjectQuotas } from './quotas.js';
import type { GcRunner } from './runner.js';
import type { GcSchedule } from './schedule.js';

/** Storage lifecycle as the management API sees it: GC runs, the schedule, project policies and quotas. */
export interface Lifecycle {
  gc: GcRunner;
  schedule: GcSchedule;
  settings: { schedule: string; graceSeconds: number; untaggedGraceHours: number };
  policies: ProjectPolicies;
  quotas: ProjectQuotas;
}
