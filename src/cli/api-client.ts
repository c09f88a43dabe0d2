import type { Command } from 'commander';
import { exitCodes } from './config-commands.js';
import { readPassword } from './open-for-cli.js';

export interface ApiFlags {
  url?: string;
  user?: string;
  passwordStdin?: boolean;
  json?: boolean;
}

/**
 * Flags of the commands that act through the management API as a person or a robot (their role
 * and the project's stage rules apply, and the history names them), not on the database.
 */
export function withApiFlags(command: Command): Command {
  return command
    .option('--url <url>', 'Wharf base URL (default: $WHARF_URL)')
    .option('-u, --user <name>', 'user or robot name (default: $WHARF_USER; none: anonymous)')
    .option('--password-stdin', 'read the password from standard input (else $WHARF_PASSWORD, else a prompt)')
    .option('--json', 'print the API answer as JSON');
}

export type ApiCall = <T>(method: string, path: string, body?: unknown) => Promise<T>;

export class ApiFailure extends Error {}

async function credentials(flags: ApiFlags): Promise<string | undefined> {
  const user = flags.user ?? process.env.WHARF_USER;
  if (!user) return undefined;
  const password = flags.passwordStdin || process.env.WHARF_PASSWORD === undefined ? await readPassword(`password for ${user}: `, false) : process.env.WHARF_PASSWORD;
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** Runs `work` with an authenticated API caller; API refusals print their message and exit 1. */
export async function runWithApi(flags: ApiFlags, work: (call: ApiCall) => Promise<void>): Promise<void> {
  const base = (flags.url ?? process.env.WHARF_URL ?? '').replace(/\/+$/, '');
  try {
    if (!base) throw new ApiFailure('no Wharf URL: pass --url or set WHARF_URL');
    const authorization = await credentials(flags);
    const call: ApiCall = async <T>(method: string, path: string, body?: unknown) => {
      const response = await fetch(`${base}/api/v1${path}`, {
        method,
        headers: { accept: 'application/json', ...(authorization ? { authorization } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await response.text();
      const parsed = text ? (JSON.parse(text) as unknown) : undefined;
      if (!response.ok) {
        const first = (parsed as { errors?: Array<{ code?: string; message?: string }> } | undefined)?.errors?.[0];
        throw new ApiFailure(`${first?.code ?? response.status}: ${first?.message ?? response.statusText}`);
      }
      return parsed as T;
    };
    await work(call);
  } catch (error) {
    process.stderr.write(`wharf: ${(error as Error).message}\n`);
    process.exitCode = exitCodes.runtimeFailure;
  }
}
