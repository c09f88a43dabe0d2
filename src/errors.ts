/**
 * The one table of error codes. Domain code throws `RegistryError`; only src/http turns it into an
 * HTTP status and the OCI error envelope `{"errors":[{"code","message","detail"}]}`.
 */
export const errorCodes = {
  BLOB_UNKNOWN: { status: 404, message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { status: 400, message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { status: 400, message: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: { status: 400, message: 'manifest references a manifest or blob unknown to registry' },
  MANIFEST_INVALID: { status: 400, message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown to registry' },
  NAME_INVALID: { status: 400, message: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, message: 'repository name not known to registry' },
  SIZE_INVALID: { status: 400, message: 'provided length did not match content length' },
  RANGE_INVALID: { status: 416, message: 'requested range not satisfiable' },
  TAG_INVALID: { status: 400, message: 'invalid tag' },
  PAGINATION_NUMBER_INVALID: { status: 400, message: 'invalid number of results requested' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  DENIED: { status: 403, message: 'requested access to the resource is denied' },
  UNSUPPORTED: { status: 405, message: 'the operation is unsupported' },
  TOOMANYREQUESTS: { status: 429, message: 'too many requests' },
  UNAVAILABLE: { status: 503, message: 'service unavailable' },
  NOT_FOUND: { status: 404, message: 'not found' },
  CONFLICT: { status: 409, message: 'conflict' },
  INVALID_REQUEST: { status: 400, message: 'invalid request' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof errorCodes;

export interface RegistryErrorOptions {
  /** Overrides the table's status where the spec asks for another one (e.g. 416 for an upload). */
  status?: number;
  /** Structured detail for the error envelope. Never a secret. */
  detail?: unknown;
  /** Extra response headers (e.g. `Range` on a 416, `Retry-After` on a 429). */
  headers?: Record<string, string>;
  cause?: unknown;
}

export class RegistryError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: unknown;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message?: string, options: RegistryErrorOptions = {}) {
    super(message ?? errorCodes[code].message, { cause: options.cause });
    this.name = 'RegistryError';
    this.code = code;
    this.status = options.status ?? errorCodes[code].status;
    this.detail = options.detail;
    this.headers = options.headers ?? {};
  }
}

/** Storage drivers throw this for a key that does not exist; the registry maps it to a domain code. */
export class StorageNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`storage key not found: ${key}`);
    this.name = 'StorageNotFoundError';
  }
}

/** A backing service (storage, database, upstream) failed in a way the caller cannot fix. */
export class BackendError extends Error {
  constructor(readonly backend: string, message: string, options: { cause?: unknown } = {}) {
    super(`${backend}: ${message}`, { cause: options.cause });
    this.name = 'BackendError';
  }
}

export const isRegistryError = (error: unknown): error is RegistryError => error instanceof RegistryError;
