import { RegistryError } from '../../errors.js';
import type { ByteRange } from '../../storage/driver.js';
import type { ChunkRange } from '../../registry/registry.js';

/**
 * The one byte range of a blob GET (`bytes=a-b`, `bytes=a-`, `bytes=-n`) as a half-open range.
 * Anything else, or a range outside the blob, is answered 416 with the blob's size.
 */
export function parseRangeHeader(header: string | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const unsatisfiable = () =>
    new RegistryError('RANGE_INVALID', `range ${header} is not satisfiable for ${size} bytes`, {
      headers: { 'Content-Range': `bytes */${size}` },
    });
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) throw unsatisfiable();
  const [, first, last] = match;
  let start: number;
  let end: number;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) throw unsatisfiable();
    start = Math.max(0, size - suffix);
    end = size;
  } else {
    start = Number(first);
    end = last === '' ? size : Math.min(Number(last) + 1, size);
  }
  if (start >= size || end <= start) throw unsatisfiable();
  return { start, end };
}

/** `Content-Range` of an upload chunk: `<start>-<end>` inclusive (a `bytes ` prefix is tolerated). */
export function parseContentRange(header: string | undefined): ChunkRange | undefined {
  if (header === undefined || header === '') return undefined;
  const match = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  if (!match) {
    throw new RegistryError('BLOB_UPLOAD_INVALID', `invalid Content-Range ${header}`, { status: 416 });
  }
  return { start: Number(match[1]), end: Number(match[2]) };
}
