import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { NetworkGuard } from './network-guard.js';

export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: Buffer;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** The receiver's answer (its body is read up to a few KiB, for the delivery log's error). */
export interface WebhookResponse {
  status: number;
  body: string;
}

export type SendWebhook = (request: WebhookRequest) => Promise<WebhookResponse>;

const BODY_KEEP = 2048;

/** POSTs webhook bodies: no redirects followed, forbidden networks refused (see network-guard.ts), a hard timeout. */
export function webhookClient(guard: NetworkGuard): SendWebhook {
  return (request) =>
    new Promise<WebhookResponse>((resolve, reject) => {
      const url = new URL(request.url);
      const host = url.hostname.replace(/^\[|\]$/g, '');
      if (isIP(host) !== 0) {
        const why = guard.refusal(host);
        if (why) return reject(new Error(`refused to connect: ${why}`));
      }
      const signals = [AbortSignal.timeout(request.timeoutMs), ...(request.signal ? [request.signal] : [])];
      const client = url.protocol === 'https:' ? https : http;
      const req = client.request(url, {
        method: 'POST',
        headers: { ...request.headers, 'Content-Length': String(request.body.length) },
        lookup: guard.lookup,
        agent: false,
        signal: AbortSignal.any(signals),
      });
      req.on('error', (error) => reject(error.name === 'AbortError' ? new Error(`no answer within ${request.timeoutMs} ms`) : error));
      req.on('response', (res) => {
        let kept = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (kept.length < BODY_KEEP) kept += chunk.slice(0, BODY_KEEP - kept.length);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: kept }));
        res.on('error', reject);
      });
      req.end(request.body);
    });
}
