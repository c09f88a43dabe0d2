import type { Command } from 'commander';
import { splitImageReference } from '../oci/names.js';
import { ApiFailure, runWithApi, withApiFlags, type ApiFlags } from './api-client.js';

interface PromotionAnswer {
  digest: string;
  source: { repository: string; reference: string };
  target: { repository: string; tag: string | null };
  manifests: number;
  referrers: number;
  blobs: number;
}

/**
 * `wharf promote SRC DST [--note TEXT]`. It acts through the API with the caller's credentials,
 * not on the database: a promotion is a decision that the target project's stage rules judge by
 * who makes it, and the image's history names that person or robot. So it runs from a CI job
 * or a laptop as well as on the server.
 */
export function registerPromoteCommand(program: Command): void {
  withApiFlags(
    program
      .command('promote')
      .description('promote an image to another repository on the server: same digest, platforms and referrers included, no blob copied')
      .argument('<source>', 'repo:tag or repo@sha256:… (a registry host in front is ignored)')
      .argument('<target>', "repo[:tag] (no tag: the source's tag)")
      .option('--note <text>', 'recorded with the promotion, e.g. the URL of a test report'),
  ).action(async (source: string, target: string, flags: ApiFlags & { note?: string }) => {
    await runWithApi(flags, async (call) => {
      const from = splitImageReference(source);
      const to = splitImageReference(target);
      if (!from.reference) throw new ApiFailure(`${source}: name a tag or a digest`);
      if (to.reference?.startsWith('sha256:')) throw new ApiFailure(`${target}: the target is a repository with an optional tag, not a digest`);
      const answer = await call<PromotionAnswer>('POST', '/promotions', {
        source: { repository: from.repository, reference: from.reference },
        target: { repository: to.repository, ...(to.reference ? { tag: to.reference } : {}) },
        ...(flags.note ? { note: flags.note } : {}),
      });
      if (flags.json) return void process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
      const where = `${answer.target.repository}${answer.target.tag ? `:${answer.target.tag}` : ''}`;
      process.stdout.write(
        `promoted ${answer.source.repository}:${answer.source.reference} to ${where} (${answer.digest}): ${answer.manifests} manifest(s), ${answer.referrers} referrer(s), ${answer.blobs} blob(s) linked, no bytes copied\n`,
      );
    });
  });
}
