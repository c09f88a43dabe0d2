import type { PolicyStore } from '../metadata/policies.js';
import { parsePolicy, type ProjectPolicy } from './policy.js';

/** Project lifecycle policies as the API and the CLI read and change them (validated, stored as JSON). */
export interface ProjectPolicies {
  /** The stored policy, or undefined (the defaults apply). */
  get(project: string): Promise<ProjectPolicy | undefined>;
  /** Validates `input` (INVALID_REQUEST otherwise), stores it whole and returns it. */
  set(project: string, input: unknown, by: string): Promise<ProjectPolicy>;
  /** Back to the defaults; false when there was no policy. */
  reset(project: string): Promise<boolean>;
}

export function projectPolicies(store: PolicyStore, now: () => number): ProjectPolicies {
  return {
    async get(project) {
      const text = await store.get(project);
      return text === undefined ? undefined : parsePolicy(JSON.parse(text));
    },
    async set(project, input, by) {
      const policy = parsePolicy(input);
      await store.set(project, JSON.stringify(policy), now(), by);
      return policy;
    },
    reset: (project) => store.remove(project),
  };
}
