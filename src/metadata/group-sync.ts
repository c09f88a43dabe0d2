import { open, type FileHandle } from 'node:fs/promises';

/** Told after each flush: how long it took and how many waiting writers it answered. */
export type SyncObserver = (seconds: number, writers: number) => void;

/**
 * Group commit for one file: writers that must not answer before their bytes are on disk call
 * `sync()`, and everyone who calls while a flush runs shares the next one. A flush covers exactly
 * the writes that happened before it started, so a caller waits for the first flush that starts
 * after its call: at most the one running plus one. The flush runs in libuv's thread pool, so the
 * event loop serves other requests while the disk works.
 */
export class GroupSync {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;
  private waiting = 0;

  constructor(
    private readonly flush: () => Promise<void>,
    private readonly observe: SyncObserver = () => undefined,
  ) {}

  sync(): Promise<void> {
    this.waiting += 1;
    if (this.next) return this.next;
    if (!this.running) return this.start();
    // The running flush may have started before this caller's write: wait for a fresh one.
    const settled = this.running.then(
      () => undefined,
      () => undefined,
    );
    this.next = settled.then(() => {
      this.next = undefined;
      return this.start();
    });
    return this.next;
  }

  private start(): Promise<void> {
    const writers = this.waiting;
    this.waiting = 0;
    const started = performance.now();
    this.running = this.flush().finally(() => {
      this.running = undefined;
      this.observe((performance.now() - started) / 1000, writers);
    });
    return this.running;
  }
}

/** fsync of one file, with the descriptor it keeps open for that. */
export interface FileFlush {
  flush(): Promise<void>;
  /** Closes the descriptor; a later flush opens the file again. */
  close(): Promise<void>;
}

/**
 * fsync of the file at `path`. The file is opened by the first flush that finds it (a file that
 * is not there yet has nothing to flush) and kept open: opening and closing it around every fsync
 * were two more trips through the thread pool for every commit, on the path of every write's
 * answer. Kept only as long as the file keeps its name: SQLite removes its WAL when the database's
 * last connection closes, and the caller closes this with that connection (GroupCommitDriver).
 */
export function fileFlush(path: string): FileFlush {
  let opening: Promise<FileHandle | undefined> | undefined;
  const handle = () =>
    (opening ??= open(path, 'r').then(
      (opened) => opened,
      (error: NodeJS.ErrnoException) => {
        opening = undefined;
        if (error.code === 'ENOENT') return undefined;
        throw error;
      },
    ));
  return {
    async flush() {
      await (await handle())?.sync();
    },
    async close() {
      const closing = opening;
      opening = undefined;
      await (await closing?.catch(() => undefined))?.close();
    },
  };
}
