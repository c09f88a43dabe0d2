import type { RepositoryAction } from './policy.js';
import { isRepositoryAction } from './policy.js';

/** One entry of a token's `access` claim, as Distribution writes it. */
export interface AccessEntry {
  type: string;
  name: string;
  actions: string[];
}

export type ParsedScope =
  | { type: 'repository'; name: string; actions: RepositoryAction[] }
  | { type: 'registry'; name: 'catalog'; actions: ['*'] };

/**
 * Parses Docker token scopes: `repository:<name>:pull,push,delete` (the name may carry a
 * `(plugin)` type suffix, dropped) and `registry:catalog:*`. Several may be space-separated.
 * Unknown types and actions are skipped: the token endpoint grants less, it never fails.
 */
export function parseScopes(values: readonly string[]): ParsedScope[] {
  const out: ParsedScope[] = [];
  for (const value of values) {
    for (const scope of value.split(' ')) {
      const first = scope.indexOf(':');
      const last = scope.lastIndexOf(':');
      if (first <= 0 || last === first) continue;
      const type = scope.slice(0, first).replace(/\(.*\)$/, '');
      const name = scope.slice(first + 1, last);
      const actions = scope.slice(last + 1).split(',').map((a) => a.trim());
      if (type === 'repository' && name !== '') {
        const known = [...new Set(actions.map((a) => (a === '*' ? 'pull,push,delete' : a)).join(',').split(','))].filter(isRepositoryAction);
        out.push({ type: 'repository', name, actions: known });
      } else if (type === 'registry' && name === 'catalog' && actions.includes('*')) {
        out.push({ type: 'registry', name: 'catalog', actions: ['*'] });
      }
    }
  }
  return out;
}

/** The `scope` value of a challenge: `repository:team/app:pull,push`. */
export function formatScope(type: string, name: string, actions: readonly string[]): string {
  return `${type}:${name}:${actions.join(',')}`;
}
