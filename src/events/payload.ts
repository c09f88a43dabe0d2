import { createHmac } from 'node:crypto';
import type { WebhookFormat } from '../metadata/webhook-endpoints.js';
import type { EventType, WharfEvent } from './types.js';

/** Distribution 2.x's notification media type (what tools that consume its notifications expect). */
export const DISTRIBUTION_EVENTS_MEDIA_TYPE = 'application/vnd.docker.distribution.events.v1+json';
export const SIGNATURE_HEADER = 'X-Wharf-Signature-256';

/** The types the Distribution envelope can express (a promotion is a push into the target). */
export const distributionEventTypes: readonly EventType[] = ['push', 'pull', 'delete', 'promotion'];

export interface SourceInfo {
  /** `host:port` of this instance. */
  addr: string;
  instanceId: string;
  /** `https://registry.example.com` for target URLs; else from the request's Host. */
  publicUrl?: string | undefined;
}

/** `sha256=<hex>`: HMAC-SHA256 of the exact body bytes with the endpoint's secret. */
export function signature(secret: string, body: Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** The body and content type an endpoint of `format` receives for `event`. */
export function renderEvent(event: WharfEvent, format: WebhookFormat, source: SourceInfo): { body: Buffer; contentType: string } {
  if (format === 'wharf') return { body: Buffer.from(JSON.stringify(event)), contentType: 'application/json' };
  return { body: Buffer.from(JSON.stringify({ events: [distributionEvent(event, source)] })), contentType: DISTRIBUTION_EVENTS_MEDIA_TYPE };
}

/** One event in CNCF Distribution's notification envelope (notifications/event.go). */
function distributionEvent(event: WharfEvent, source: SourceInfo): Record<string, unknown> {
  const base = source.publicUrl ?? (event.request ? `http://${event.request.host}` : '');
  const manifestUrl = (repository: string, digest: string) => (base ? `${base}/v2/${repository}/manifests/${digest}` : undefined);
  let action: string;
  let target: Record<string, unknown>;
  const e = event as WharfEvent<'push'> | WharfEvent<'pull'> | WharfEvent<'delete'> | WharfEvent<'promotion'>;
  switch (e.type) {
    case 'push':
    case 'pull':
      action = e.type;
      target = { mediaType: e.data.mediaType, size: e.data.size, digest: e.data.digest, length: e.data.size, repository: e.data.repository, url: manifestUrl(e.data.repository, e.data.digest), tag: e.data.tag ?? undefined };
      break;
    case 'delete':
      action = 'delete';
      target = { digest: e.data.digest ?? undefined, repository: e.data.repository, tag: e.data.tag ?? undefined };
      break;
    case 'promotion':
      action = 'push';
      target = {
        mediaType: e.data.mediaType,
        size: e.data.size,
        digest: e.data.digest,
        length: e.data.size,
        repository: e.data.target.repository,
        fromRepository: e.data.source.repository,
        url: manifestUrl(e.data.target.repository, e.data.digest),
        tag: e.data.target.tag ?? undefined,
      };
      break;
    default:
      throw new Error(`event type ${(event as WharfEvent).type} has no Distribution form`);
  }
  const request = event.request;
  return {
    id: event.id,
    timestamp: event.time,
    action,
    target,
    request: request ? { id: request.id, addr: request.addr, host: request.host, method: request.method, useragent: request.userAgent } : { id: event.id, method: '', useragent: '' },
    actor: event.actor === 'anonymous' ? {} : { name: event.actor },
    source: { addr: source.addr, instanceID: source.instanceId },
  };
}
