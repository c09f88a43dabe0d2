import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { drain, readSmall } from '../lib/streams.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { UpstreamError } from './upstream-error.js';
import { parseChallenge, type Challenge } from './www-authenticate.js';

export interface UpstreamClientOptions {
  /** The upstream's name in config (for messages and metrics). */
  name: string;
  /** What the registry is to Wharf, for messages: `upstream` (default) or a replication `target`. */
  role?: 'upstream' | 'target';
  /** API base URL, e.g. `https://registry-1.docker.io`. */
  url: string;
  username?: string;
  password?: string;
  /** Idle time on a socket before a request fails (connect, headers or body). */
  timeoutMs?: number;
  breaker?: { failureThreshold: number; cooldownMs: number };
  now?: () => number;
  userAgent?: string;
}

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body; the caller must consume or `discard()` it so the connection can be reused. */
  body: IncomingMessage;
  discard(): Promise<void>;
}

export interface UpstreamRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path under the API base, starting with `/v2/`, or an absolute URL the registry gave (an upload's Location). */
  path: string;
  /** Repository the request concerns, for the token scope. */
  repository?: string;
  /**
   * Token scopes to ask for instead of the challenge's (`repository:a:pull,push`,
   * `repository:b:pull` for a cross-repository mount); tokens are cached per set of scopes.
   */
  scopes?: string[];
  headers?: Record<string, string>;
  /** The request body; a function, so it can be sent again after an authentication challenge. */
  body?: () => Readable | Buffer;
}

/** What the mirror asks of an upstream registry. */
export interface UpstreamClient {
  readonly name: string;
  readonly url: string;
  /**
   * Sends a request, authenticating as the upstream asks (Bearer token flow or Basic) and
   * following redirects to blob storage (requests without a body). Resolves with any 2xx/404
   * answer; throws `UpstreamError` for everything else (and while the circuit is open), with the
   * registry's own error code and message when its answer carried one.
   */
  request(request: UpstreamRequest): Promise<UpstreamResponse>;
  close(): void;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

const MAX_REDIRECTS = 5;
const TOKEN_LIMIT_BYTES = 1 << 20;
const ERROR_BODY_LIMIT_BYTES = 16 << 10;
/** Tokens are refreshed this long before they expire, so a long blob GET does not outlive one. */
const TOKEN_EARLY_REFRESH_MS = 10_000;
const DEFAULT_TOKEN_SECONDS = 60;

/**
 * An HTTP client for one upstream registry. Connections are kept alive and reused; bearer tokens
 * are cached per scope until shortly before they expire; the circuit breaker guards every request.
 */
export function createUpstreamClient(options: UpstreamClientOptions): UpstreamClient {
  const now = options.now ?? Date.now;
  const base = new URL(options.url.replace(/\/+$/, ''));
  const agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 16 }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 16 }),
  };
  const breaker = new CircuitBreaker({ failureThreshold: 5, cooldownMs: 10_000, ...options.breaker, now });
  const tokens = new Map<string, CachedToken>();
  const timeoutMs = options.timeoutMs ?? 30_000;
  const label = `${options.role ?? 'upstream'} ${options.name} (${base.origin})`;
  // Learned from the first challenge: Basic upstreams then get credentials up front.
  let basicPreferred = false;

  const basicHeader = () =>
    options.username !== undefined ? `Basic ${Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64')}` : undefined;

  function send(method: string, url: URL, headers: Record<string, string>, body?: Readable | Buffer): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const agent = url.protocol === 'https:' ? agents['https:'] : agents['http:'];
      const lib = url.protocol === 'https:' ? https : http;
      const req = lib.request(url, { method, headers: { 'user-agent': options.userAgent ?? 'wharf-mirror', ...headers }, agent, timeout: timeoutMs }, resolve);
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      // A body that fails destroys the request, which rejects through 'error' above.
      else pipeline(body, req).catch((error: unknown) => req.destroy(error instanceof Error ? error : new Error(String(error))));
    });
  }

  /** One request with redirects followed (without a body); Authorization is dropped when the host changes. */
  async function sendFollowing(method: string, path: string, headers: Record<string, string>, body?: Readable | Buffer): Promise<IncomingMessage> {
    let url = /^https?:\/\//.test(path) ? new URL(path) : new URL(base.pathname.replace(/\/$/, '') + path, base);
    let current = { ...headers };
    for (let hop = 0; ; hop++) {
      const response = await send(method, url, current, body);
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      if (body !== undefined || ![301, 302, 303, 307, 308].includes(status) || !location || hop >= MAX_REDIRECTS) return response;
      await drain(response).catch(() => undefined);
      const next = new URL(location, url);
      if (next.host !== url.host) {
        // Blob storage (S3 and the like) authenticates by the signed URL; our token would confuse it.
        const { authorization: _dropped, ...rest } = current;
        current = rest;
      }
      url = next;
    }
  }

  async function fetchToken(challenge: Challenge, request: UpstreamRequest): Promise<CachedToken> {
    const realm = challenge.params['realm'];
    if (!realm) throw new UpstreamError('denied', options.name, `${label} sent a Bearer challenge without a realm`);
    const url = new URL(realm);
    if (challenge.params['service']) url.searchParams.set('service', challenge.params['service']);
    const scope = challenge.params['scope'] ?? (request.repository ? `repository:${request.repository}:pull` : undefined);
    for (const each of request.scopes ?? (scope ? [scope] : [])) url.searchParams.append('scope', each);
    const headers: Record<string, string> = {};
    const basic = basicHeader();
    if (basic) headers['authorization'] = basic;
    let response: IncomingMessage;
    try {
      response = await send('GET', url, headers);
    } catch (error) {
      throw new UpstreamError('unavailable', options.name, `${label}: token server ${url.origin} is unreachable: ${(error as Error).message}`, { cause: error });
    }
    const status = response.statusCode ?? 0;
    const body = await readSmall(response, TOKEN_LIMIT_BYTES, () => new Error('token response too large')).catch((error: unknown) => {
      throw new UpstreamError('unavailable', options.name, `${label}: reading the token failed: ${(error as Error).message}`);
    });
    if (status === 401 || status === 403) throw new UpstreamError('denied', options.name, `${label}: the token server refused the credentials (${status})`, { status });
    if (status >= 500 || status === 429) throw new UpstreamError('unavailable', options.name, `${label}: the token server answered ${status}`, { status });
    if (status !== 200) throw new UpstreamError('denied', options.name, `${label}: the token server answered ${status}`, { status });
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
    } catch {
      throw new UpstreamError('invalid', options.name, `${label}: the token server sent invalid JSON`);
    }
    const token = typeof parsed.token === 'string' ? parsed.token : typeof parsed.access_token === 'string' ? parsed.access_token : undefined;
    if (!token) throw new UpstreamError('invalid', options.name, `${label}: the token response has no token`);
    const seconds = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : DEFAULT_TOKEN_SECONDS;
    return { token, expiresAt: now() + seconds * 1000 - TOKEN_EARLY_REFRESH_MS };
  }

  function cachedToken(scopeKey: string): string | undefined {
    const entry = tokens.get(scopeKey);
    if (!entry) return undefined;
    if (entry.expiresAt <= now()) {
      tokens.delete(scopeKey);
      return undefined;
    }
    return entry.token;
  }

  async function attempt(request: UpstreamRequest): Promise<IncomingMessage> {
    const scopeKey = request.scopes?.join(' ') ?? request.repository ?? '';
    const headers: Record<string, string> = { ...request.headers };
    const token = cachedToken(scopeKey);
    if (token) headers['authorization'] = `Bearer ${token}`;
    else if (basicPreferred && basicHeader()) headers['authorization'] = basicHeader()!;
    let response = await sendFollowing(request.method, request.path, headers, request.body?.());
    if (response.statusCode !== 401) return response;

    // The auth flow: 401 + challenge → token (or Basic) → the same request once more.
    const challenge = parseChallenge(response.headers['www-authenticate']);
    await drain(response).catch(() => undefined);
    if (challenge?.scheme === 'bearer') {
      const fresh = await fetchToken(challenge, request);
      tokens.set(scopeKey, fresh);
      headers['authorization'] = `Bearer ${fresh.token}`;
    } else if (challenge?.scheme === 'basic' && basicHeader()) {
      basicPreferred = true;
      headers['authorization'] = basicHeader()!;
    } else {
      return response;
    }
    response = await sendFollowing(request.method, request.path, headers, request.body?.());
    return response;
  }

  /** `: CODE message` from a registry's error body (the OCI envelope), or nothing. */
  async function reasonOf(response: IncomingMessage): Promise<string> {
    const body = await readSmall(response, ERROR_BODY_LIMIT_BYTES, () => new Error('error body too large')).catch(() => undefined);
    if (!body || body.length === 0) return '';
    try {
      const first = (JSON.parse(body.toString('utf8')) as { errors?: Array<{ code?: unknown; message?: unknown }> }).errors?.[0];
      const parts = [first?.code, first?.message].filter((p): p is string => typeof p === 'string' && p.length > 0);
      return parts.length > 0 ? `: ${parts.join(' ').slice(0, 300)}` : '';
    } catch {
      return '';
    }
  }

  return {
    name: options.name,
    url: base.origin + base.pathname.replace(/\/$/, ''),

    async request(request) {
      if (!breaker.allow()) {
        throw new UpstreamError(
          'unavailable',
          options.name,
          `${label} is unavailable (it failed repeatedly; next try in ${Math.ceil(breaker.retryInMs() / 1000)} s)`,
        );
      }
      let response: IncomingMessage;
      try {
        response = await attempt(request);
      } catch (error) {
        if (error instanceof UpstreamError) {
          if (error.transient) breaker.failure();
          else breaker.success();
          throw error;
        }
        breaker.failure();
        const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
        throw new UpstreamError('unavailable', options.name, `${label} is unreachable: ${reason}`, { cause: error });
      }
      const status = response.statusCode ?? 0;
      const discard = () => drain(response).catch(() => undefined);
      if ((status >= 200 && status < 300) || status === 404) {
        breaker.success();
        return { status, headers: response.headers, body: response, discard };
      }
      const reason = request.method === 'HEAD' ? '' : await reasonOf(response);
      await discard();
      if (status === 429) {
        const retryAfter = Number(response.headers['retry-after']);
        const retryAfterSeconds = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined;
        breaker.failure(retryAfterSeconds !== undefined ? retryAfterSeconds * 1000 : undefined);
        throw new UpstreamError('rate-limited', options.name, `${label} is rate-limiting the mirror (429)`, {
          status,
          ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
        });
      }
      if (status >= 500) {
        breaker.failure();
        throw new UpstreamError('unavailable', options.name, `${label} answered ${status}${reason}`, { status });
      }
      breaker.success();
      if (status === 401 || status === 403) {
        throw new UpstreamError('denied', options.name, `${label} refused the credentials for ${request.repository ?? request.path} (${status})${reason}`, { status });
      }
      throw new UpstreamError('invalid', options.name, `${label} answered ${status} to ${request.method} ${pathOf(request.path)}${reason}`, { status });
    },

    close() {
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  };
}

/** A request's path for messages: an absolute upload URL loses its origin and query (state tokens). */
function pathOf(path: string): string {
  return /^https?:\/\//.test(path) ? new URL(path).pathname : path.split('?')[0]!;
}
