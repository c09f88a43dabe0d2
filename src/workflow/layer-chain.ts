import { createHash } from 'node:crypto';

/** Layer lists longer than this are indexed by their first MAX_DEPTH prefixes only. */
export const MAX_DEPTH = 256;

/** The chain id of a layer list: sha256 over the digests in order (what "starts with these layers" compares). */
export function chainId(layers: readonly string[]): string {
  return `sha256:${createHash('sha256').update(layers.join('\n')).digest('hex')}`;
}

/** The chain ids of every proper prefix (1 … n-1 layers), shortest first, capped at MAX_DEPTH. */
export function prefixChainIds(layers: readonly string[]): string[] {
  const out: string[] = [];
  const hash = createHash('sha256');
  for (let i = 0; i < Math.min(layers.length - 1, MAX_DEPTH); i++) {
    hash.update(i === 0 ? layers[i]! : `\n${layers[i]!}`);
    out.push(`sha256:${hash.copy().digest('hex')}`);
  }
  return out;
}
