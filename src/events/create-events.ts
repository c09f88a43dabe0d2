import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { MetadataStore } from '../metadata/store.js';
import { startDelivery, type DeliveryLoop, type DeliverySettings } from './delivery.js';
import { networkGuard } from './network-guard.js';
import { eventPublisher, type EventPublisher } from './publisher.js';
import { openSecretBox } from '../lib/secret-box.js';
import { webhookClient } from './webhook-client.js';
import { webhookService, type WebhookService } from './webhooks.js';

export interface EventsSettings extends Omit<DeliverySettings, 'retentionMs'> {
  allowedNetworks: readonly string[];
  retentionDays: number;
  encryptionKey?: string | undefined;
  /** For target URLs in the Distribution envelope. */
  publicUrl?: string | undefined;
}

export interface Events {
  publisher: EventPublisher;
  webhooks: WebhookService;
  delivery: DeliveryLoop;
  close(): Promise<void>;
}

/** The publisher, the webhook endpoints service and this instance's delivery loop, wired together. */
export async function createEvents(options: { metadata: MetadataStore; settings: EventsSettings; now: () => number; log: Logger }): Promise<Events> {
  const { metadata, settings, now } = options;
  const secrets = await openSecretBox(metadata.webhooks, { name: 'webhooks.encryptionKey', value: settings.encryptionKey }, now());
  const guard = networkGuard(settings.allowedNetworks);
  const instanceId = randomUUID();
  let delivery: DeliveryLoop | undefined;
  const log = options.log.child({ component: 'webhooks' });
  const publisher = eventPublisher({ metadata, now, onPublished: () => delivery?.wake(), onError: (error) => log.warn({ err: error }, 'publishing a pull event failed') });
  delivery = startDelivery({
    metadata,
    secrets,
    send: webhookClient(guard),
    now,
    holder: `${hostname()}:${process.pid}:${instanceId}`,
    source: { addr: hostname(), instanceId, publicUrl: settings.publicUrl },
    settings: { ...settings, retentionMs: settings.retentionDays * 86_400_000 },
    log,
  });
  const loop = delivery;
  const webhooks = webhookService({ metadata, secrets, guard, now, onEndpointsChanged: () => publisher.endpointsChanged(), onQueued: () => loop.wake() });
  return { publisher, webhooks, delivery: loop, close: () => loop.stop() };
}
