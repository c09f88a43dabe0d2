import type { FastifyRequest } from 'fastify';
import { RegistryError } from '../../errors.js';
import { baseUrl } from './credentials.js';

export interface ChallengeOptions {
  mode: 'basic' | 'token';
  realm: string;
  service: string;
  publicUrl?: string | undefined;
}

const quote = (value: string) => value.replace(/["\\]/g, '');

/** A 401 UNAUTHORIZED with the `WWW-Authenticate` challenge of the auth mode (and the scope a token needs). */
export function unauthorized(request: FastifyRequest, options: ChallengeOptions, scope?: string, message = 'authentication required'): RegistryError {
  const header =
    options.mode === 'basic'
      ? `Basic realm="${quote(options.realm)}"`
      : `Bearer realm="${quote(baseUrl(request, options.publicUrl))}/token",service="${quote(options.service)}"${scope ? `,scope="${quote(scope)}"` : ''}`;
  return new RegistryError('UNAUTHORIZED', message, { headers: { 'WWW-Authenticate': header } });
}

export function denied(message = 'requested access to the resource is denied'): RegistryError {
  return new RegistryError('DENIED', message);
}
