import type { Command } from 'commander';
import { splitImageReference } from '../oci/names.js';
import { runWithApi, withApiFlags, type ApiFlags } from './api-client.js';

interface Reason {
  repository: string;
  tag: string;
  now: string;
}
interface Lineage {
  repository: string;
  digest: string;
  builtOn: Array<{ repository: string | null; digest: string; tags: string[]; name: string | null; source: string; movedOn: Reason[] }>;
  usedBy: Array<{ repository: string; digest: string; tags: string[]; stale: boolean }>;
  stale: boolean;
  platforms: Array<Lineage & { platform: string | null }>;
}

const short = (digest: string) => digest.slice(0, 19);
const named = (repository: string | null, tags: string[], digest: string) => `${repository ?? '(not visible)'}${tags.length ? `:${tags.join(',')}` : ''} ${short(digest)}`;

function render(l: Lineage, indent = ''): string[] {
  const lines = [`${indent}built on:${l.builtOn.length ? '' : ' nothing Wharf knows of'}`];
  for (const [i, b] of l.builtOn.entries()) {
    const moved = b.movedOn.map((m) => `${m.repository}:${m.tag} now points at ${short(m.now)}`).join('; ');
    lines.push(`${indent}  ${'  '.repeat(i)}${named(b.repository, b.tags, b.digest)} (${b.source === 'annotation' ? `annotation${b.name ? ` ${b.name}` : ''}` : 'layers'})${moved ? `  [moved on: ${moved}]` : ''}`);
  }
  lines.push(`${indent}used by:${l.usedBy.length ? '' : ' nothing'}`);
  for (const u of l.usedBy) lines.push(`${indent}  ${named(u.repository, u.tags, u.digest)}${u.stale ? '  STALE' : ''}`);
  return lines;
}

/** `wharf lineage IMAGE`: through the API, so the answer covers what the caller may see. */
export function registerLineageCommand(program: Command): void {
  withApiFlags(
    program
      .command('lineage')
      .description('what an image is built on, what is built on it, and whether it is stale (its base tag moved on)')
      .argument('<image>', 'repo:tag or repo@sha256:… (a registry host in front is ignored)'),
  ).action(async (image: string, flags: ApiFlags) => {
    await runWithApi(flags, async (call) => {
      const { repository, reference } = splitImageReference(image);
      const query = new URLSearchParams({ repository, reference: reference ?? 'latest' });
      const answer = await call<Lineage>('GET', `/images/lineage?${query}`);
      if (flags.json) return void process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
      const lines = [`${repository}:${reference ?? 'latest'} ${answer.digest}${answer.stale ? '  STALE' : ''}`, ...render(answer)];
      for (const p of answer.platforms) lines.push(`platform ${p.platform ?? short(p.digest)}${p.stale ? '  STALE' : ''}:`, ...render(p, '  '));
      process.stdout.write(`${lines.join('\n')}\n`);
    });
  });
}
