import type { FastifyInstance } from 'fastify';

export interface HealthOptions {
  /** Named readiness checks: each resolves when its dependency answers (storage, database…). */
  checks: Record<string, () => Promise<void>>;
  /** True once shutdown began: not ready, so load balancers stop sending new work. */
  draining: () => boolean;
  /** A check slower than this counts as failed (default 2 s): a probe must answer fast. */
  timeoutMs?: number;
}

interface CheckResult {
  ok: boolean;
  durationMs: number;
  error?: string;
}

/**
 * `GET /healthz`: the process serves (always 200 while it does).
 * `GET /readyz`: every dependency answers; 503 naming the failing ones otherwise.
 * Neither needs credentials nor says more than which dependency failed and why.
 */
export function healthPlugin(options: HealthOptions) {
  const timeoutMs = options.timeoutMs ?? 2000;
  return async (app: FastifyInstance) => {
    app.get('/healthz', async (_request, reply) => reply.header('Cache-Control', 'no-store').send({ status: 'ok' }));

    app.get('/readyz', async (_request, reply) => {
      reply.header('Cache-Control', 'no-store');
      if (options.draining()) return reply.code(503).send({ status: 'shutting down', checks: {}, failing: [] });
      const names = Object.keys(options.checks);
      const results = await Promise.all(names.map((name) => runCheck(options.checks[name]!, timeoutMs)));
      const checks = Object.fromEntries(names.map((name, index) => [name, results[index]!]));
      const failing = names.filter((_, index) => !results[index]!.ok);
      return reply.code(failing.length === 0 ? 200 : 503).send({ status: failing.length === 0 ? 'ok' : 'unavailable', checks, failing });
    });
  };
}

async function runCheck(check: () => Promise<void>, timeoutMs: number): Promise<CheckResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([check(), timeout]);
    return { ok: true, durationMs: Math.round(performance.now() - started) };
  } catch (error) {
    return { ok: false, durationMs: Math.round(performance.now() - started), error: firstLine(error) };
  } finally {
    clearTimeout(timer);
  }
}

/** The error's message, one line, short: no stack, no internals beyond what the driver said. */
function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (message.split('\n', 1)[0] ?? '').slice(0, 300);
}
