import { RegistryError } from '../errors.js';
import { UpstreamError } from './upstream-error.js';

/**
 * An upstream failure as the client sees it: the spec's error code, a message that names the
 * upstream, and the upstream in the detail. `notFound` builds the 404 for the resource asked for.
 */
export function toRegistryError(error: unknown, notFound: () => RegistryError): unknown {
  if (!(error instanceof UpstreamError)) return error;
  const detail = { upstream: error.upstream };
  switch (error.failure) {
    case 'not-found':
      return notFound();
    case 'rate-limited':
      return new RegistryError('TOOMANYREQUESTS', error.message, {
        detail,
        headers: { 'Retry-After': String(error.options.retryAfterSeconds ?? 60) },
        cause: error,
      });
    case 'denied':
      return new RegistryError('DENIED', error.message, { detail, cause: error });
    case 'invalid':
      return new RegistryError('UNAVAILABLE', error.message, { status: 502, detail, cause: error });
    case 'unavailable':
      return new RegistryError('UNAVAILABLE', error.message, { detail, headers: { 'Retry-After': '10' }, cause: error });
  }
}

/** Whether `error` is a RegistryError with one of `codes`. */
export function hasCode(error: unknown, ...codes: string[]): boolean {
  return error instanceof RegistryError && codes.includes(error.code);
}
