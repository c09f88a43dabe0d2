import type { Logger } from 'pino';
import type { MetadataStore } from '../metadata/store.js';
import type { AttemptOutcome } from '../metadata/outbox.js';
import { renderEvent, SIGNATURE_HEADER, signature, type SourceInfo } from './payload.js';
import type { SecretBox } from '../lib/secret-box.js';
import type { WharfEvent } from './types.js';
import type { SendWebhook } from './webhook-client.js';

export interface DeliverySettings {
  timeoutMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** How often each instance looks for due deliveries when nothing woke it. */
  pollIntervalMs: number;
  /** Finished deliveries (and their events) are kept this long. */
  retentionMs: number;
}

export interface DeliveryDeps {
  metadata: Pick<MetadataStore, 'outbox' | 'webhooks'>;
  secrets: SecretBox;
  send: SendWebhook;
  now: () => number;
  /** Unique per process: who holds a claim. */
  holder: string;
  source: SourceInfo;
  settings: DeliverySettings;
  log: Pick<Logger, 'warn' | 'error' | 'debug'>;
}

export interface DeliveryLoop {
  /** Look for due deliveries soon (an event was just written). */
  wake(): void;
  /** One pass: claims and sends what is due; resolves with how many were attempted. */
  runOnce(): Promise<number>;
  /** Stops polling and aborts attempts in flight (they are retried later, by any instance). */
  stop(): Promise<void>;
}

const BATCH = 20;
const CONCURRENCY = 4;
const PURGE_EVERY_MS = 3_600_000;

/** Exponential backoff: base, 2×base, 4×base … capped, with up to 10 % jitter so retries spread. */
export function retryDelay(attempts: number, settings: Pick<DeliverySettings, 'retryBaseMs' | 'retryMaxMs'>, random = Math.random): number {
  const delay = Math.min(settings.retryMaxMs, settings.retryBaseMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(delay * (1 + random() * 0.1));
}

/**
 * Delivers webhook events from the outbox. Every instance runs one loop; a delivery is claimed
 * with a conditional UPDATE (one winner) for the request timeout plus a margin, so if the
 * instance dies mid-request the claim expires and another attempt follows: at-least-once.
 */
export function startDelivery(deps: DeliveryDeps): DeliveryLoop {
  const { metadata, settings } = deps;
  // Long enough for the request and recording its outcome; a dead holder blocks a delivery this long.
  const claimMs = settings.timeoutMs + 5_000;
  const inFlight = new Set<AbortController>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  let lastPurge = 0;

  async function attempt(id: string): Promise<void> {
    const now = deps.now();
    if (!(await metadata.outbox.claim(id, deps.holder, now, now + claimMs))) return;
    const delivery = await metadata.outbox.get(id);
    const event = delivery && (await metadata.outbox.event(delivery.eventId));
    const endpoint = delivery && (await metadata.webhooks.get(delivery.endpointId));
    if (!delivery || !event || !endpoint || !endpoint.enabled) {
      await metadata.outbox.finish(id, deps.holder, { status: 'failed', httpStatus: null, error: endpoint ? 'the endpoint is disabled' : 'the endpoint or event is gone', nextAttemptAt: now });
      return;
    }
    const controller = new AbortController();
    inFlight.add(controller);
    let outcome: AttemptOutcome;
    try {
      const { body, contentType } = renderEvent(JSON.parse(event.payload) as WharfEvent, endpoint.format, deps.source);
      const response = await deps.send({
        url: endpoint.url,
        body,
        timeoutMs: settings.timeoutMs,
        signal: controller.signal,
        headers: {
          'Content-Type': contentType,
          'User-Agent': 'Wharf-Webhooks/1',
          'X-Wharf-Event': event.type,
          'X-Wharf-Event-Id': event.id,
          'X-Wharf-Delivery': id,
          [SIGNATURE_HEADER]: signature(deps.secrets.open(endpoint.encryptedSecret), body),
        },
      });
      if (response.status >= 200 && response.status < 300) outcome = { status: 'delivered', httpStatus: response.status, at: deps.now() };
      else outcome = retryOrGiveUp(delivery.attempts, response.status, `HTTP ${response.status}${response.body ? `: ${response.body.slice(0, 200)}` : ''}`);
    } catch (error) {
      outcome = retryOrGiveUp(delivery.attempts, null, (error as Error).message);
    } finally {
      inFlight.delete(controller);
    }
    if (outcome.status !== 'delivered') deps.log.warn({ delivery: id, endpoint: endpoint.id, attempts: delivery.attempts, error: outcome.error }, 'webhook delivery failed');
    await metadata.outbox.finish(id, deps.holder, outcome);
  }

  /** `attempts` includes the one that just failed (the claim counted it). */
  function retryOrGiveUp(attempts: number, httpStatus: number | null, error: string): AttemptOutcome {
    const now = deps.now();
    if (attempts >= settings.maxAttempts) return { status: 'failed', httpStatus, error, nextAttemptAt: now };
    return { status: 'pending', httpStatus, error, nextAttemptAt: now + retryDelay(attempts, settings) };
  }

  async function runOnce(): Promise<number> {
    const due = await metadata.outbox.due(deps.now(), BATCH);
    const queue = [...due];
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined && !stopped; id = queue.shift()) {
        await attempt(id).catch((error: unknown) => deps.log.error({ err: error, delivery: id }, 'webhook delivery attempt failed'));
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, due.length) }, worker));
    if (deps.now() - lastPurge >= PURGE_EVERY_MS) {
      lastPurge = deps.now();
      await metadata.outbox.purge(lastPurge - settings.retentionMs);
    }
    return due.length;
  }

  const schedule = (ms: number) => {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(tick, ms);
    timer.unref();
  };

  function tick(): void {
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      try {
        do {
          again = false;
          // A full batch means more may be due: go on at once.
        } while (((await runOnce()) >= BATCH || again) && !stopped);
      } catch (error) {
        deps.log.error({ err: error }, 'webhook delivery pass failed');
      } finally {
        running = undefined;
        schedule(settings.pollIntervalMs);
      }
    })();
  }

  schedule(Math.min(1000, settings.pollIntervalMs));
  return {
    // A short delay: the event's transaction commits after `publish` returns.
    wake: () => schedule(20),
    runOnce,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      for (const controller of inFlight) controller.abort();
      await running;
    },
  };
}
