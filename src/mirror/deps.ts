import type { FileModes } from '../lib/file-modes.js';
import type { MetadataStore } from '../metadata/store.js';
import type { ContentLifecycle } from '../registry/content.js';
import type { Registry } from '../registry/registry.js';
import type { StorageDriver } from '../storage/driver.js';
import type { MirrorObserver } from './observer.js';

/** Structured logging, pino-compatible: static lower-case messages, values as fields. */
export interface MirrorLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** What the mirror's parts share. */
export interface MirrorDeps {
  /** The private registry the mirror decorates; it also serves whatever is cached. */
  inner: Registry;
  metadata: MetadataStore;
  storage: StorageDriver;
  /** Publishes cached content and deletes evicted bytes, on the same terms as the registry and GC. */
  content: ContentLifecycle;
  /** Local directory for downloads in flight (spool files), emptied at start. */
  spoolDirectory: string;
  /** Modes of spool files (default owner-only). */
  fileModes?: FileModes;
  manifestMaxBytes: number;
  now: () => number;
  log: MirrorLog;
  observer: MirrorObserver;
  /** Called after content entered the cache (the size limit is enforced from there). */
  onCached(): void;
}

/** Pull times are written at most this often per entry: LRU order needs seconds, not milliseconds. */
export const TOUCH_GRANULARITY_MS = 1_000;
