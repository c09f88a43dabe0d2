/** Helpers for the auth tests: JSON calls to /api/v1 with Basic credentials. */
import assert from 'node:assert/strict';
import { request, type Response } from '../fixtures/http.js';

export interface Creds {
  username: string;
  password: string;
}

export async function api(baseUrl: string, method: string, path: string, options: { auth?: Creds; body?: unknown; headers?: Record<string, string> } = {}): Promise<Response> {
  return request(method, `${baseUrl}/api/v1${path}`, {
    ...(options.auth ? { auth: options.auth } : {}),
    headers: { ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}), ...options.headers },
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
}

/** Like `api`, asserting a 2xx answer. */
export async function apiOk<T = unknown>(baseUrl: string, method: string, path: string, options: { auth?: Creds; body?: unknown } = {}): Promise<T> {
  const res = await api(baseUrl, method, path, options);
  assert.ok(res.status >= 200 && res.status < 300, `${method} ${path}: ${res.status} ${res.text()}`);
  return (res.body.length > 0 ? res.json<T>() : undefined) as T;
}

export const ADMIN: Creds = { username: 'root', password: 'root-password-1' };
export const adminEnv = { WHARF_ADMIN_USER: ADMIN.username, WHARF_ADMIN_PASSWORD: ADMIN.password };
