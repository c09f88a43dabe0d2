import type { UserStore } from '../metadata/users.js';
import type { Accounts } from './accounts.js';
import { verifyPassword } from './passwords.js';

/**
 * WHARF_ADMIN_USER names an existing account that is not a system admin with WHARF_ADMIN_PASSWORD
 * as its password. Wharf refuses to start: the variables say who the administrator is, and an
 * account that differs is either someone else's (planted while the registry was open) or a stale
 * variable, and only the operator can tell which.
 */
export class AdminBootstrapConflict extends Error {
  constructor(
    readonly user: string,
    readonly wrongPassword: boolean,
    readonly notAdmin: boolean,
  ) {
    const problems = [wrongPassword ? 'WHARF_ADMIN_PASSWORD is not its password' : '', notAdmin ? 'it is not a system administrator' : ''].filter(Boolean);
    super(`WHARF_ADMIN_USER names the existing account "${user}", but ${problems.join(' and ')}`);
    this.name = 'AdminBootstrapConflict';
  }
}

export interface BootstrapResult {
  user: string;
  /** The account was created now (false: it existed and matches the variables). */
  created: boolean;
}

/**
 * The first administrator, from WHARF_ADMIN_USER / WHARF_ADMIN_PASSWORD (both set, else nothing
 * happens): creates the account when it is missing; an existing one must be an admin with that
 * password, else this throws `AdminBootstrapConflict`. It never changes an existing account.
 */
export async function bootstrapAdmin(deps: { accounts: Accounts; users: UserStore }, env: NodeJS.ProcessEnv): Promise<BootstrapResult | undefined> {
  const name = env.WHARF_ADMIN_USER;
  const password = env.WHARF_ADMIN_PASSWORD;
  if (!name || !password) return undefined;
  if (await matches(deps.users, name, password)) return { user: name, created: false };
  try {
    await deps.accounts.createUser({ name: 'wharf' }, { name, password, admin: true });
    return { user: name, created: true };
  } catch (error) {
    // Another instance sharing the database created it first: it must match all the same.
    if ((error as { code?: string }).code !== 'CONFLICT' || !(await matches(deps.users, name, password))) throw error;
    return { user: name, created: false };
  }
}

/** True when `name` is an admin with `password`, false when missing; throws when it differs. */
async function matches(users: UserStore, name: string, password: string): Promise<boolean> {
  const user = await users.get(name);
  if (!user) return false;
  const wrongPassword = !(await verifyPassword(password, user.passwordHash));
  if (wrongPassword || !user.admin) throw new AdminBootstrapConflict(name, wrongPassword, !user.admin);
  return true;
}
