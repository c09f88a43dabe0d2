import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { RegistryError } from '../errors.js';
import { timeOrderedId } from '../lib/ids.js';
import type { Delivery, DeliveryStatus } from '../metadata/outbox.js';
import type { MetadataStore } from '../metadata/store.js';
import type { WebhookEndpoint, WebhookFormat } from '../metadata/webhook-endpoints.js';
import type { NetworkGuard } from './network-guard.js';
import { distributionEventTypes } from './payload.js';
import type { SecretBox } from '../lib/secret-box.js';
import { defaultEventTypes, eventTypes, isEventType } from './types.js';

/** An endpoint as the API shows it: never its secret. */
export interface WebhookView {
  id: string;
  project: string | null;
  url: string;
  events: string[];
  format: WebhookFormat;
  enabled: boolean;
  description: string | null;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

export interface WebhookInput {
  url?: string;
  events?: string[];
  format?: WebhookFormat;
  /** Chosen by the caller; absent on create: generated and returned once. */
  secret?: string;
  /** Replace the secret with a generated one (returned once). */
  rotateSecret?: boolean;
  description?: string | null;
  enabled?: boolean;
}

export interface DeliveryView {
  id: string;
  webhook: string;
  event: { id: string; type: string };
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: string | null;
  lastAttemptAt: string | null;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
  redeliveryOf: string | null;
}

/** Managing webhook endpoints and reading their delivery log; the caller has been authorized. */
export interface WebhookService {
  list(project?: string | null): Promise<WebhookView[]>;
  /** Throws NOT_FOUND. */
  get(id: string): Promise<WebhookView>;
  create(actor: string, project: string | null, input: WebhookInput & { url: string }): Promise<{ webhook: WebhookView; secret?: string }>;
  update(id: string, input: WebhookInput): Promise<{ webhook: WebhookView; secret?: string }>;
  remove(id: string): Promise<void>;
  deliveries(id: string, query: { status?: DeliveryStatus; limit: number; offset: number }): Promise<{ total: number; items: DeliveryView[] }>;
  /** Sends the delivery's event again (a new delivery in the log). */
  redeliver(id: string, deliveryId: string): Promise<DeliveryView>;
  /** The event a delivery carries, as sent in the `wharf` format. */
  deliveryEvent(id: string, deliveryId: string): Promise<unknown>;
}

export interface WebhookServiceDeps {
  metadata: Pick<MetadataStore, 'webhooks' | 'outbox'>;
  secrets: SecretBox;
  guard: NetworkGuard;
  now: () => number;
  /** Endpoints changed (the publisher's pull cache) or a delivery was queued (the loop). */
  onEndpointsChanged(): void;
  onQueued(): void;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const invalid = (message: string) => new RegistryError('INVALID_REQUEST', message);

const view = (e: WebhookEndpoint): WebhookView => ({
  id: e.id,
  project: e.project,
  url: e.url,
  events: e.eventTypes,
  format: e.format,
  enabled: e.enabled,
  description: e.description,
  createdBy: e.createdBy,
  createdAt: iso(e.createdAt)!,
  updatedAt: iso(e.updatedAt)!,
});

const deliveryView = (d: Delivery): DeliveryView => ({
  id: d.id,
  webhook: d.endpointId,
  event: { id: d.eventId, type: d.eventType },
  status: d.status,
  attempts: d.attempts,
  nextAttemptAt: d.status === 'pending' ? iso(d.nextAttemptAt) : null,
  lastAttemptAt: iso(d.lastAttemptAt),
  lastStatus: d.lastStatus,
  lastError: d.lastError,
  createdAt: iso(d.createdAt)!,
  deliveredAt: iso(d.deliveredAt),
  redeliveryOf: d.redeliveryOf,
});

export function webhookService(deps: WebhookServiceDeps): WebhookService {
  const { metadata } = deps;

  const checkUrl = (value: string): string => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw invalid('url must be an absolute http or https URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid('url must be an http or https URL');
    if (url.username || url.password) throw invalid('url must not carry credentials: the receiver verifies the signature instead');
    if (value.length > 2000) throw invalid('url is longer than 2000 characters');
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const refusal = isIP(host) !== 0 ? deps.guard.refusal(host) : undefined;
    if (refusal) throw invalid(`url: ${refusal}`);
    return url.toString();
  };

  const checkEvents = (events: string[] | undefined, format: WebhookFormat): string[] => {
    const chosen = events ?? (format === 'distribution' ? distributionEventTypes : defaultEventTypes);
    for (const e of chosen) if (!isEventType(e)) throw invalid(`unknown event type ${e} (known: ${eventTypes.join(', ')})`);
    if (chosen.length === 0) throw invalid('events must name at least one event type');
    if (format === 'distribution') {
      const other = chosen.filter((e) => !distributionEventTypes.includes(e as never));
      if (other.length > 0) throw invalid(`the distribution format carries only ${distributionEventTypes.join(', ')} (not ${other.join(', ')})`);
    }
    return [...new Set(chosen)];
  };

  const checkSecret = (secret: string): string => {
    if (secret.length < 16 || secret.length > 256) throw invalid('secret must be 16 to 256 characters');
    return secret;
  };

  async function find(id: string): Promise<WebhookEndpoint> {
    const endpoint = await metadata.webhooks.get(id);
    if (!endpoint) throw new RegistryError('NOT_FOUND', `no webhook ${id}`);
    return endpoint;
  }

  async function findDelivery(id: string, deliveryId: string): Promise<Delivery> {
    const delivery = await metadata.outbox.get(deliveryId);
    if (!delivery || delivery.endpointId !== id) throw new RegistryError('NOT_FOUND', `no delivery ${deliveryId} for webhook ${id}`);
    return delivery;
  }

  return {
    async list(project) {
      return (await metadata.webhooks.list(project)).map(view);
    },
    async get(id) {
      return view(await find(id));
    },
    async create(actor, project, input) {
      const format = input.format ?? 'wharf';
      const secret = input.secret !== undefined ? checkSecret(input.secret) : randomBytes(32).toString('base64url');
      const now = deps.now();
      const endpoint: WebhookEndpoint = {
        id: timeOrderedId(now),
        project,
        url: checkUrl(input.url),
        eventTypes: checkEvents(input.events, format),
        format,
        encryptedSecret: deps.secrets.seal(secret),
        enabled: input.enabled ?? true,
        description: input.description ?? null,
        createdBy: actor,
        createdAt: now,
        updatedAt: now,
      };
      await metadata.webhooks.create(endpoint);
      deps.onEndpointsChanged();
      return { webhook: view(endpoint), ...(input.secret === undefined ? { secret } : {}) };
    },
    async update(id, input) {
      const current = await find(id);
      const format = input.format ?? current.format;
      const secret = input.rotateSecret ? randomBytes(32).toString('base64url') : input.secret !== undefined ? checkSecret(input.secret) : undefined;
      await metadata.webhooks.update(
        id,
        {
          ...(input.url !== undefined ? { url: checkUrl(input.url) } : {}),
          ...(input.events !== undefined || input.format !== undefined ? { eventTypes: checkEvents(input.events ?? current.eventTypes, format), format } : {}),
          ...(secret !== undefined ? { encryptedSecret: deps.secrets.seal(secret) } : {}),
          ...(input.description !== undefined ? { description: input.description } : {}),
          ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
        },
        deps.now(),
      );
      deps.onEndpointsChanged();
      return { webhook: view(await find(id)), ...(input.rotateSecret ? { secret } : {}) };
    },
    async remove(id) {
      if (!(await metadata.webhooks.remove(id))) throw new RegistryError('NOT_FOUND', `no webhook ${id}`);
      deps.onEndpointsChanged();
    },
    async deliveries(id, query) {
      await find(id);
      const page = await metadata.outbox.list(id, query);
      return { total: page.total, items: page.items.map(deliveryView) };
    },
    async redeliver(id, deliveryId) {
      await findDelivery(id, deliveryId);
      const created = await metadata.outbox.redeliver(deliveryId, timeOrderedId(deps.now()), deps.now());
      deps.onQueued();
      return deliveryView(created!);
    },
    async deliveryEvent(id, deliveryId) {
      const delivery = await findDelivery(id, deliveryId);
      const event = await metadata.outbox.event(delivery.eventId);
      return event ? (JSON.parse(event.payload) as unknown) : null;
    },
  };
}
