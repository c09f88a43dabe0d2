import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * A process's start time, in clock ticks since boot (`/proc/<pid>/stat`, Linux), or undefined
 * when there is no such process or no /proc.
 */
function startTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (2nd field) may hold spaces and parentheses: count from after its last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

const hasProc = startTicks(process.pid) !== undefined;

/**
 * Who this process is, for names that outlive it (a lease's holder): host, process id and start
 * time. The start time tells a later process that got the same id — a restarted container's
 * process 1 — from the one that wrote the name.
 */
export function processIdentity(): string {
  return `${hostname()}:${process.pid}:${startTicks(process.pid) ?? ''}`;
}

/**
 * Whether the process a name from `processIdentity` (possibly with more `:`-separated parts after
 * it) stood for is gone: on this host, its id names no process now, or a process started later.
 * False when that cannot be told (another host, no /proc and the id in use).
 */
export function isGoneFromThisHost(name: string): boolean {
  const [host, pidText, started] = name.split(':');
  const pid = Number(pidText);
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0) return false;
  if (hasProc) {
    const now = startTicks(pid);
    // A start time that is not a number: a name written before it was recorded; the id alone counts.
    return now === undefined || (started !== undefined && /^\d+$/.test(started) && started !== now);
  }
  return !isAlive(pid);
}

/** Whether a process with this id exists (it may belong to another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
