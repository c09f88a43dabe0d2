/** The lease operations `runExclusive` needs (the metadata's LeaseStore has them). */
export interface LeaseOps {
  acquire(name: string, holder: string, ttlMs: number, now: number): Promise<boolean>;
  renew(name: string, holder: string, ttlMs: number, now: number): Promise<boolean>;
  release(name: string, holder: string): Promise<void>;
}

export interface ExclusiveOptions {
  /** Who is asking (unique per process and run, e.g. `${hostname}:${pid}:${uuid}`). */
  holder: string;
  /** How long the lease lasts without renewal: how long a crashed holder blocks the others. */
  ttlMs: number;
  now: () => number;
  /** A renewal failed with an error (the database is down); the work goes on until the lease is lost. */
  onRenewError?: (error: unknown) => void;
}

export type ExclusiveResult<T> = { ran: true; value: T } | { ran: false };

/**
 * Runs `work` while holding the lease `name`, renewing it every third of its time to live, or
 * returns `{ ran: false }` at once when another holder has it. `work` receives a signal that
 * aborts when the lease is lost (renewal refused or impossible past the expiry), so it can stop
 * before doing anything that needs exclusivity. The lease is released when `work` settles.
 */
export async function runExclusive<T>(
  leases: LeaseOps,
  name: string,
  options: ExclusiveOptions,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<ExclusiveResult<T>> {
  const { holder, ttlMs, now } = options;
  if (!(await leases.acquire(name, holder, ttlMs, now()))) return { ran: false };
  const controller = new AbortController();
  let expiresAt = now() + ttlMs;
  const renew = async () => {
    try {
      const at = now();
      if (await leases.renew(name, holder, ttlMs, at)) expiresAt = at + ttlMs;
      else controller.abort(new Error(`lease ${name} was taken by another holder`));
    } catch (error) {
      options.onRenewError?.(error);
      if (now() >= expiresAt) controller.abort(new Error(`lease ${name} expired while it could not be renewed`));
    }
  };
  // Not unref'd: while the work runs, the process has a reason to stay up; cleared when it settles.
  const timer = setInterval(() => void renew(), Math.max(1, Math.floor(ttlMs / 3)));
  try {
    return { ran: true, value: await work(controller.signal) };
  } finally {
    clearInterval(timer);
    await leases.release(name, holder).catch((error: unknown) => options.onRenewError?.(error));
  }
}
