import { open } from 'node:fs/promises';

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

/**
 * fsync of the file at `path`, opened for the flush: a descriptor kept open would outlive the
 * file when SQLite removes its WAL on close. A file that is gone has nothing left to flush
 * (SQLite checkpoints the WAL into the database, synced, before it removes it).
 */
export function fileFlush(path: string): () => Promise<void> {
  return async () => {
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  };
}
