import type { Readable } from 'node:stream';
import type { UpstreamClient, UpstreamRequest } from '../mirror/upstream-client.js';
import { UpstreamError } from '../mirror/upstream-error.js';

/**
 * The OCI distribution API of a push rule's target, as the copy needs it: existence checks by
 * HEAD, uploads (monolithic or chunked, resumable), cross-repository mounts and manifest PUTs.
 * Every write asks for a `pull,push` token on its repository (a mount also `pull` on its source).
 */
export interface RemoteRegistry {
  readonly name: string;
  /** The digest `reference` points at, or undefined when the target has no such manifest. */
  manifestDigest(repository: string, reference: string): Promise<string | undefined>;
  hasBlob(repository: string, digest: string): Promise<boolean>;
  /** Mounts `digest` from `from`; when the target cannot, the upload session it opened instead. */
  mount(repository: string, digest: string, from: string): Promise<{ mounted: true } | { mounted: false; location: string }>;
  /** Opens an upload session; resolves with its location. */
  startUpload(repository: string): Promise<string>;
  /** Bytes an open upload session holds, or undefined when the target no longer knows it. */
  uploadedBytes(repository: string, location: string): Promise<number | undefined>;
  /** Sends `length` bytes at `offset` (PATCH); resolves with the session's next location. */
  appendChunk(repository: string, location: string, body: () => Readable, offset: number, length: number): Promise<string>;
  /** Closes the session as `digest`, sending `body` (the whole blob: a monolithic upload) if given. */
  finish(repository: string, location: string, digest: string, body?: { stream: () => Readable; length: number }): Promise<void>;
  putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<void>;
  close(): void;
}

const push = (repository: string) => `repository:${repository}:pull,push`;

export function remoteRegistry(client: UpstreamClient): RemoteRegistry {
  const absolute = (location: string) => new URL(location, `${client.url}/`).toString();

  async function send(request: UpstreamRequest, expected: number[]): Promise<{ status: number; location: string | undefined; headers: Record<string, unknown> }> {
    const response = await client.request(request);
    await response.discard();
    if (!expected.includes(response.status)) {
      if (response.status === 404) throw new UpstreamError('not-found', client.name, `target ${client.name} answered 404 to ${request.method} ${request.path.split('?')[0]}`, { status: 404 });
      throw new UpstreamError('invalid', client.name, `target ${client.name} answered ${response.status} to ${request.method}`, { status: response.status });
    }
    const location = response.headers.location;
    return { status: response.status, location: typeof location === 'string' ? absolute(location) : undefined, headers: response.headers };
  }

  const needLocation = (location: string | undefined, what: string) => {
    if (!location) throw new UpstreamError('invalid', client.name, `target ${client.name} sent no Location for ${what}`);
    return location;
  };

  return {
    name: client.name,

    async manifestDigest(repository, reference) {
      const accept = [
        'application/vnd.oci.image.index.v1+json',
        'application/vnd.docker.distribution.manifest.list.v2+json',
        'application/vnd.oci.image.manifest.v1+json',
        'application/vnd.docker.distribution.manifest.v2+json',
      ].join(', ');
      const response = await client.request({ method: 'HEAD', path: `/v2/${repository}/manifests/${reference}`, repository, scopes: [push(repository)], headers: { accept } });
      await response.discard();
      if (response.status === 404) return undefined;
      const digest = response.headers['docker-content-digest'];
      // Without the header the target cannot tell: copy again (PUT is idempotent).
      return typeof digest === 'string' ? digest : undefined;
    },

    async hasBlob(repository, digest) {
      const response = await client.request({ method: 'HEAD', path: `/v2/${repository}/blobs/${digest}`, repository, scopes: [push(repository)] });
      await response.discard();
      return response.status === 200;
    },

    async mount(repository, digest, from) {
      const query = new URLSearchParams({ mount: digest, from });
      const answer = await send(
        { method: 'POST', path: `/v2/${repository}/blobs/uploads/?${query}`, repository, scopes: [push(repository), `repository:${from}:pull`], headers: { 'content-length': '0' } },
        [201, 202],
      );
      return answer.status === 201 ? { mounted: true } : { mounted: false, location: needLocation(answer.location, 'an upload') };
    },

    async startUpload(repository) {
      const answer = await send({ method: 'POST', path: `/v2/${repository}/blobs/uploads/`, repository, scopes: [push(repository)], headers: { 'content-length': '0' } }, [202]);
      return needLocation(answer.location, 'an upload');
    },

    async uploadedBytes(repository, location) {
      const response = await client.request({ method: 'GET', path: location, repository, scopes: [push(repository)] });
      await response.discard();
      if (response.status === 404) return undefined;
      const range = /^(?:bytes=)?0-(\d+)$/.exec(String(response.headers.range ?? ''));
      // No Range: nothing received yet (some registries omit it for an empty session).
      return range ? Number(range[1]) + 1 : 0;
    },

    async appendChunk(repository, location, body, offset, length) {
      const answer = await send(
        {
          method: 'PATCH',
          path: location,
          repository,
          scopes: [push(repository)],
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(length), 'content-range': `${offset}-${offset + length - 1}` },
          body,
        },
        [202],
      );
      return needLocation(answer.location, 'the next chunk');
    },

    async finish(repository, location, digest, body) {
      const url = new URL(location);
      url.searchParams.set('digest', digest);
      await send(
        {
          method: 'PUT',
          path: url.toString(),
          repository,
          scopes: [push(repository)],
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(body?.length ?? 0) },
          ...(body ? { body: body.stream } : {}),
        },
        [201, 204],
      );
    },

    async putManifest(repository, reference, bytes, mediaType) {
      await send(
        { method: 'PUT', path: `/v2/${repository}/manifests/${reference}`, repository, scopes: [push(repository)], headers: { 'content-type': mediaType }, body: () => bytes },
        [201, 204],
      );
    },

    close: () => client.close(),
  };
}
