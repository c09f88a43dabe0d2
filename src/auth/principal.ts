import type { RepositoryAction, Role, Subject } from './policy.js';

/** Who is making a request, once their credentials have been checked. */
export interface Principal {
  kind: 'anonymous' | 'user' | 'robot';
  /** '' for anonymous; `robot$<project>+<name>` for robots. */
  name: string;
  /** A system administrator. */
  admin: boolean;
  robot?: { project: string; actions: RepositoryAction[] };
  /** Users: when the password last changed (refresh tokens from before are void). */
  passwordChangedAt?: number;
}

export const anonymous: Principal = Object.freeze({ kind: 'anonymous', name: '', admin: false });

/** The policy's view of a principal inside one project. */
export function subjectOf(principal: Principal, role: Role | undefined): Subject {
  if (principal.kind === 'anonymous') return { kind: 'anonymous' };
  if (principal.kind === 'robot') return { kind: 'robot', project: principal.robot?.project ?? '', actions: principal.robot?.actions ?? [] };
  return { kind: 'user', admin: principal.admin, role };
}

/** `robot$<project>+<name>`. */
export const ROBOT_PREFIX = 'robot$';
export function robotName(project: string, name: string): string {
  return `${ROBOT_PREFIX}${project}+${name}`;
}
