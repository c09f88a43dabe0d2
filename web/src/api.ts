/**
 * The console talks only to /api/v1. Errors come back in the registry's envelope
 * `{"errors":[{"code","message"}]}`; `ApiError` carries the first one so pages can show it.
 */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

let csrfToken: string | undefined;

/** Set after sign-in (and from GET /session); sent on every state-changing request. */
export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

type Query = Record<string, string | number | undefined>;

export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

async function errorOf(response: Response): Promise<ApiError> {
  let code = 'HTTP_' + response.status;
  let message = response.statusText || `request failed (${response.status})`;
  try {
    const body: unknown = await response.json();
    const first = (body as { errors?: Array<{ code?: unknown; message?: unknown }> }).errors?.[0];
    if (first) {
      if (typeof first.code === 'string') code = first.code;
      if (typeof first.message === 'string') message = first.message;
    } else if (typeof (body as { message?: unknown }).message === 'string') {
      message = (body as { message: string }).message;
    }
  } catch {
    // not JSON: keep the status text
  }
  return new ApiError(response.status, code, message);
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export const get = <T>(path: string, query?: Query) => api<T>('GET', withQuery(path, query));

/** `/repositories/<name>/-/<what>`, the name percent-encoded as one path parameter (as the OpenAPI document says). */
export const repoPath = (name: string, what: string, reference?: string) =>
  `/repositories/${encodeURIComponent(name)}/-/${what}${reference !== undefined ? '/' + encodeURIComponent(reference) : ''}`;

/** Lists come back as an array or wrapped (`items`, `events`, `projects` …): take the array. */
export function listOf<T>(value: unknown, ...keys: string[]): T[] {
  if (Array.isArray(value)) return value as T[];
  if (value && typeof value === 'object') {
    for (const key of [...keys, 'items', 'data', 'results']) {
      const inner = (value as Record<string, unknown>)[key];
      if (Array.isArray(inner)) return inner as T[];
    }
  }
  return [];
}
