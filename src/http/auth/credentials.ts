import type { FastifyRequest } from 'fastify';

export type Credentials = { kind: 'basic'; name: string; secret: string } | { kind: 'bearer'; token: string };

/**
 * The credentials in an Authorization header. Empty Basic credentials (`Og==`, what containers
 * clients send when logged out) count as none.
 */
export function credentialsOf(request: FastifyRequest): Credentials | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const space = header.indexOf(' ');
  if (space === -1) return undefined;
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (scheme === 'bearer' && value !== '') return { kind: 'bearer', token: value };
  if (scheme !== 'basic') return undefined;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const name = colon === -1 ? decoded : decoded.slice(0, colon);
  const secret = colon === -1 ? '' : decoded.slice(colon + 1);
  if (name === '' && secret === '') return undefined;
  return { kind: 'basic', name, secret };
}

/** Where the request came from, for rate limits and the audit log. */
export const sourceOf = (request: FastifyRequest): string => request.ip;

/** `https://registry.example.com` from config, else the origin the client used. */
export function baseUrl(request: FastifyRequest, publicUrl: string | undefined): string {
  return publicUrl ?? `${request.protocol}://${request.host}`;
}

/** Sets the name the access log prints for this request. */
export function nameRequest(request: FastifyRequest, name: string): void {
  (request as FastifyRequest & { principalName?: string }).principalName = name;
}
