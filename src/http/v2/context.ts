import type { FastifyReply, FastifyRequest } from 'fastify';
import type { WriteContext } from '../../registry/hooks.js';
import type { ManifestInfo, Registry } from '../../registry/registry.js';
import type { V2Access } from '../access.js';

export interface V2Options {
  registry: Registry;
  access: V2Access;
  /** `https://registry.example.com` when set: Location headers become absolute. */
  publicUrl?: string;
  manifestMaxBytes: number;
  /** Answer blob GETs with a redirect to the store when the driver can. */
  redirectBlobs: boolean;
  /** Registry mirror: the repository serving `name` of registry `ns` (containerd's `?ns=`), if any. */
  resolveNamespace?: (ns: string, name: string) => string | undefined;
  /** Told of each manifest pull once it is served (pull events; must not delay or fail the pull). */
  onPull?: (pull: { repository: string; reference: string; manifest: ManifestInfo }, context: WriteContext) => void;
}

export interface V2Context extends V2Options {
  location(path: string): string;
}

export type V2Handler<R> = (route: R, request: FastifyRequest, reply: FastifyReply, query: URLSearchParams, context: V2Context) => Promise<unknown>;

/** Whether a request carries a body (chunked, or a non-zero Content-Length). */
export function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  if (length !== undefined) return Number(length) > 0;
  return request.headers['transfer-encoding'] !== undefined;
}
