import type { TokenBucket } from '../lib/token-bucket.js';

/** What a run counts while it copies (flushed to the run's row now and then). */
export interface ProgressSink {
  /** Bytes moved (downloaded from an upstream, or sent to a target). */
  bytes(n: number): void;
  /** A blob copied (`true`) or found already there (`false`). */
  blob(copied: boolean): void;
}

/** One run's settings, shared by every image it copies. */
export interface CopyContext {
  ruleId: string;
  /** Aborts when the rule's lease is lost or the process stops: stop at the next step. */
  signal: AbortSignal;
  /** The rule's bandwidth limit, shared by every transfer of the run. */
  bucket: TokenBucket | undefined;
  progress: ProgressSink;
}

/** What copying one image came to. */
export interface ImageOutcome {
  /** `done`: something was copied; `skipped`: everything was already there. */
  status: 'done' | 'skipped';
  digest: string;
}
