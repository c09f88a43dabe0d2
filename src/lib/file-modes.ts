import { closeSync, fchmodSync, mkdirSync, openSync, chmodSync } from 'node:fs';
import { chmod, mkdir, open, stat, type FileHandle } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { shellQuote } from './shell-quote.js';

/** Modes for the directories and files Wharf creates on the local disk. */
export interface FileModes {
  directory: number;
  file: number;
}

/** Owner only (the default): the database holds password hashes and the token signing key. */
export const privateModes: FileModes = Object.freeze({ directory: 0o700, file: 0o600 });
/** Owner, plus read for the group (`dataPermissions: group`, e.g. for a backup account). */
export const groupModes: FileModes = Object.freeze({ directory: 0o750, file: 0o640 });

export function fileModes(permissions: 'private' | 'group'): FileModes {
  return permissions === 'group' ? groupModes : privateModes;
}

// Modes are given when a file or directory is created, so it never exists with wider access. The
// umask can only narrow them, which is harmless for owner-only modes; group modes are applied
// again with chmod, so a strict umask cannot drop what the operator asked for.
const grantsGroup = (mode: number) => (mode & 0o077) !== 0;

/** `mkdir -p`: directories it creates get `modes.directory`; existing ones are left as they are. */
export async function makeDirectory(path: string, modes: FileModes): Promise<void> {
  const first = await mkdir(path, { recursive: true, mode: modes.directory });
  if (first !== undefined && grantsGroup(modes.directory)) {
    for (const directory of createdChain(first, path)) await chmod(directory, modes.directory);
  }
}

export function makeDirectorySync(path: string, modes: FileModes): void {
  const first = mkdirSync(path, { recursive: true, mode: modes.directory });
  if (first !== undefined && grantsGroup(modes.directory)) {
    for (const directory of createdChain(first, path)) chmodSync(directory, modes.directory);
  }
}

/** mkdir returns the first directory it created; every one below it, down to `last`, is new too. */
function createdChain(first: string, last: string): string[] {
  const chain = [first];
  const rest = relative(first, resolve(last));
  for (const part of rest === '' ? [] : rest.split(sep)) chain.push(join(chain.at(-1)!, part));
  return chain;
}

/** Opens `path` with `flags` that may create it; a created file gets `modes.file`. */
export async function openFile(path: string, flags: string | number, modes: FileModes): Promise<FileHandle> {
  const handle = await open(path, flags, modes.file);
  if (grantsGroup(modes.file)) {
    await handle.chmod(modes.file).catch(async (error: unknown) => {
      await handle.close();
      throw error;
    });
  }
  return handle;
}

/** Creates `path` empty with `modes.file` unless it exists. */
export function createFileSync(path: string, modes: FileModes): void {
  let fd: number;
  try {
    fd = openSync(path, 'wx', modes.file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw error;
  }
  try {
    if (grantsGroup(modes.file)) fchmodSync(fd, modes.file);
  } finally {
    closeSync(fd);
  }
}

/** An existing path that grants the group or others more than `FileModes` allow. */
export interface LoosePath {
  path: string;
  /** Its permission bits, e.g. 0o755. */
  mode: number;
  /** The shell command that narrows it (and, for a directory, everything in it). */
  fix: string;
}

/** Checks existing paths (missing ones are skipped) against `modes`, for a start-up warning. */
export async function loosePaths(paths: readonly string[], modes: FileModes): Promise<LoosePath[]> {
  const loose: LoosePath[] = [];
  for (const path of new Set(paths.map((p) => resolve(p)))) {
    const info = await stat(path).catch(() => undefined);
    if (!info) continue;
    const directory = info.isDirectory();
    const mode = info.mode & 0o777;
    if ((mode & 0o077 & ~(directory ? modes.directory : modes.file)) === 0) continue;
    const narrow = grantsGroup(modes.file) ? 'g-w,o-rwx' : 'go-rwx';
    loose.push({ path, mode, fix: `chmod ${directory ? '-R ' : ''}${narrow} ${shellQuote(path)}` });
  }
  return loose;
}
