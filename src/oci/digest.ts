import { createHash, type Hash } from 'node:crypto';
import { RegistryError } from '../errors.js';

/** A parsed content digest, `<algorithm>:<hex>`. Only algorithms we can verify are accepted. */
export interface Digest {
  readonly algorithm: DigestAlgorithm;
  readonly hex: string;
  /** The canonical string form, `sha256:…`. */
  readonly value: string;
}

export type DigestAlgorithm = 'sha256' | 'sha512';

const hexLength: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
const DIGEST_GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export function isDigestAlgorithm(value: string): value is DigestAlgorithm {
  return value === 'sha256' || value === 'sha512';
}

/** Parses a digest or throws DIGEST_INVALID naming what is wrong. */
export function parseDigest(input: string): Digest {
  if (!DIGEST_GRAMMAR.test(input)) {
    throw new RegistryError('DIGEST_INVALID', 'invalid digest format', { detail: { digest: input } });
  }
  const colon = input.indexOf(':');
  const algorithm = input.slice(0, colon);
  const hex = input.slice(colon + 1);
  if (!isDigestAlgorithm(algorithm)) {
    throw new RegistryError('DIGEST_INVALID', `unsupported digest algorithm ${algorithm}`, { detail: { digest: input } });
  }
  if (hex.length !== hexLength[algorithm] || !/^[a-f0-9]+$/.test(hex)) {
    throw new RegistryError('DIGEST_INVALID', `invalid ${algorithm} digest`, { detail: { digest: input } });
  }
  return { algorithm, hex, value: input };
}

export function tryParseDigest(input: string): Digest | null {
  try {
    return parseDigest(input);
  } catch {
    return null;
  }
}

export function looksLikeDigest(reference: string): boolean {
  return reference.includes(':');
}

export function newHasher(algorithm: DigestAlgorithm): Hash {
  return createHash(algorithm);
}

export function digestOf(bytes: Buffer, algorithm: DigestAlgorithm = 'sha256'): Digest {
  const hex = createHash(algorithm).update(bytes).digest('hex');
  return { algorithm, hex, value: `${algorithm}:${hex}` };
}

export function digestFromHash(algorithm: DigestAlgorithm, hash: Hash): Digest {
  const hex = hash.digest('hex');
  return { algorithm, hex, value: `${algorithm}:${hex}` };
}
