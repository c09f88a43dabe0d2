import { readFile, stat } from 'node:fs/promises';

/**
 * The users of an htpasswd file (bcrypt entries only, as Distribution accepts), re-read when the
 * file changes (checked at most every few seconds).
 */
export interface HtpasswdSource {
  /** The bcrypt hash for `name`, if the file has one. */
  hashFor(name: string): Promise<string | undefined>;
}

export function parseHtpasswd(text: string): Map<string, string> {
  const users = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const hash = line.slice(colon + 1);
    if (/^\$2[aby]\$\d\d\$/.test(hash)) users.set(line.slice(0, colon), hash);
  }
  return users;
}

export function htpasswdFile(path: string, now: () => number = Date.now, recheckMs = 5000): HtpasswdSource {
  let users = new Map<string, string>();
  let mtime = -1;
  let checkedAt = -Infinity;
  return {
    async hashFor(name) {
      if (now() - checkedAt >= recheckMs) {
        checkedAt = now();
        const info = await stat(path);
        if (info.mtimeMs !== mtime) {
          users = parseHtpasswd(await readFile(path, 'utf8'));
          mtime = info.mtimeMs;
        }
      }
      return users.get(name);
    },
  };
}
