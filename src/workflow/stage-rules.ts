import { RegistryError } from '../errors.js';
import type { ProjectRules } from '../metadata/project-rules.js';
import type { MetadataStore } from '../metadata/store.js';
import { parseRepositoryName } from '../oci/names.js';
import { isTagPattern } from './tag-rules.js';

export interface RulesView {
  project: string;
  /** Lowest role that may promote into the project (null: whoever has `promote`). */
  promoteMinRole: string | null;
  /** Only digests promoted into this project first may be promoted here (null: any). */
  promoteFrom: string | null;
  /** Tag patterns that never move and cannot be deleted (`*`: all tags). */
  immutableTags: string[];
  updatedBy: string | null;
  updatedAt: string | null;
}

export interface RulesInput {
  promoteMinRole?: string | null;
  promoteFrom?: string | null;
  immutableTags?: string[];
}

const MAX_PATTERNS = 50;
const invalid = (message: string) => new RegistryError('INVALID_REQUEST', message);

const view = (project: string, r: ProjectRules | undefined): RulesView => ({
  project,
  promoteMinRole: r?.promoteMinRole ?? null,
  promoteFrom: r?.promoteFrom ?? null,
  immutableTags: r?.immutableTags ?? [],
  updatedBy: r?.updatedBy ?? null,
  updatedAt: r ? new Date(r.updatedAt).toISOString() : null,
});

/** A project's stage rules and immutable tags: read by anyone who may pull there, set by its admins. */
export function stageRules(deps: { metadata: Pick<MetadataStore, 'projectRules'>; now: () => number; roles: readonly string[] }) {
  return {
    async get(project: string): Promise<RulesView> {
      return view(project, await deps.metadata.projectRules.get(project));
    },
    /** Changes the fields given; the others stay. */
    async set(actor: string, project: string, input: RulesInput): Promise<RulesView> {
      const current = view(project, await deps.metadata.projectRules.get(project));
      const promoteMinRole = input.promoteMinRole === undefined ? current.promoteMinRole : input.promoteMinRole;
      if (promoteMinRole !== null && !deps.roles.includes(promoteMinRole)) throw invalid(`promoteMinRole must be one of ${deps.roles.join(', ')}`);
      const promoteFrom = input.promoteFrom === undefined ? current.promoteFrom : input.promoteFrom;
      if (promoteFrom !== null) {
        if (promoteFrom === project) throw invalid('promoteFrom must name another project');
        try {
          parseRepositoryName(promoteFrom);
        } catch {
          throw invalid('promoteFrom must be a project name');
        }
        if (promoteFrom.includes('/')) throw invalid('promoteFrom must be a project name, not a repository');
      }
      const immutableTags = input.immutableTags === undefined ? current.immutableTags : [...new Set(input.immutableTags)];
      if (immutableTags.length > MAX_PATTERNS) throw invalid(`at most ${MAX_PATTERNS} immutable tag patterns`);
      for (const p of immutableTags) if (!isTagPattern(p)) throw invalid(`immutable tag pattern ${JSON.stringify(p)} may hold tag characters, * and ? only`);
      const now = deps.now();
      await deps.metadata.projectRules.set({ project, promoteMinRole, promoteFrom, immutableTags, updatedBy: actor, updatedAt: now });
      return view(project, { project, promoteMinRole, promoteFrom, immutableTags, updatedBy: actor, updatedAt: now });
    },
  };
}

export type StageRules = ReturnType<typeof stageRules>;
