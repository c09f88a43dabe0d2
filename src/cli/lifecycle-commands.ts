import { InvalidArgumentError, type Command } from 'commander';
import { projectPolicies } from '../gc/policies.js';
import { projectQuotas, type QuotaView } from '../gc/quotas.js';
import { formatBytes } from '../lib/format-bytes.js';
import type { ProjectPolicy, RetentionRules } from '../gc/policy.js';
import { runWithDatabase, withDatabaseFlags, type DatabaseFlags } from './open-for-cli.js';

const cliActor = { name: 'cli', source: 'local' };

interface PolicyFlags extends DatabaseFlags {
  keepLatest?: number;
  keep?: string[];
  drop?: string[];
  maxAgeDays?: number;
  unpulledDays?: number;
  keepUntagged?: boolean;
  untaggedGraceHours?: number;
  json?: boolean;
}

const count = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('a whole number');
  return n;
};
const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** The policy the flags describe (everything not given is off / default). */
function policyOf(flags: PolicyFlags): ProjectPolicy {
  const retention: RetentionRules = {};
  if (flags.keepLatest !== undefined) retention.keepLatest = flags.keepLatest;
  if (flags.keep) retention.keepPatterns = flags.keep;
  if (flags.drop) retention.dropPatterns = flags.drop;
  if (flags.maxAgeDays !== undefined) retention.maxAgeDays = flags.maxAgeDays;
  if (flags.unpulledDays !== undefined) retention.unpulledDays = flags.unpulledDays;
  return {
    ...(Object.keys(retention).length > 0 ? { retention } : {}),
    deleteUntagged: flags.keepUntagged !== true,
    ...(flags.untaggedGraceHours !== undefined ? { untaggedGraceHours: flags.untaggedGraceHours } : {}),
  };
}

/** One line a rule, for a terminal. */
export function describePolicy(policy: ProjectPolicy | undefined): string {
  if (!policy) return 'no policy: no retention; untagged manifests go after gc.untaggedGraceHours\n';
  const r = policy.retention ?? {};
  const lines = [
    r.keepLatest !== undefined ? `keep the newest ${r.keepLatest} tags of each repository` : undefined,
    r.keepPatterns?.length ? `always keep tags matching ${r.keepPatterns.join(', ')}` : undefined,
    r.dropPatterns?.length ? `remove tags matching ${r.dropPatterns.join(', ')}` : undefined,
    r.maxAgeDays !== undefined ? `remove tags pushed more than ${r.maxAgeDays} days ago` : undefined,
    r.unpulledDays !== undefined ? `remove tags not pulled for ${r.unpulledDays} days` : undefined,
    policy.deleteUntagged
      ? `untagged manifests go after ${policy.untaggedGraceHours ?? 'gc.untaggedGraceHours'} hours`
      : 'untagged manifests are kept',
  ];
  return `${lines.filter((l) => l !== undefined).join('\n')}\n`;
}

const SUFFIXES: Record<string, number> = { '': 1, b: 1, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tib: 1024 ** 4 };

/** `none`, or bytes with an optional binary suffix: `1048576`, `500MiB`, `10G`. */
export function parseQuota(text: string): number | null {
  if (text === 'none') return null;
  const match = /^(\d+)\s*([a-z]*)$/i.exec(text.trim());
  const factor = match ? SUFFIXES[match[2]!.toLowerCase()] : undefined;
  if (!match || factor === undefined) throw new InvalidArgumentError('bytes (e.g. 500MiB, 10GiB) or "none"');
  return Number(match[1]) * factor;
}

const describeQuota = (q: QuotaView) =>
  `${q.project}: ${formatBytes(q.usedBytes)} used${q.limitBytes === null ? ', no quota' : ` of ${formatBytes(q.limitBytes)} (${q.limitBytes > 0 ? Math.floor((q.usedBytes * 100) / q.limitBytes) : 100} %)`}\n`;

/** `wharf project policy show|set|reset` and `wharf project quota`: docs/gc.md. */
export function registerPolicyCommands(project: Command): void {
  const policy = project.command('policy').description('retention policy of a project: which tags and untagged manifests GC removes');

  withDatabaseFlags(policy.command('show').description("print a project's policy"))
    .argument('<project>')
    .option('--json', 'print JSON')
    .action(async (name: string, flags: PolicyFlags) => {
      await runWithDatabase(flags, async ({ auth, metadata }) => {
        await auth.accounts.getProject(name);
        const stored = await projectPolicies(metadata.policies, Date.now).get(name);
        process.stdout.write(flags.json ? `${JSON.stringify(stored ?? null, null, 2)}\n` : describePolicy(stored));
      });
    });

  withDatabaseFlags(policy.command('set').description("replace a project's policy with the rules given (a dry run of `wharf gc` shows their effect)"))
    .argument('<project>')
    .option('--keep-latest <n>', 'keep the newest N tags of each repository (by push time)', count)
    .option('--keep <pattern>', 'never remove tags matching this (* and ?); repeatable', collect)
    .option('--drop <pattern>', 'remove tags matching this; repeatable', collect)
    .option('--max-age-days <days>', 'remove tags pushed more than DAYS ago', count)
    .option('--unpulled-days <days>', 'remove tags not pulled for DAYS', count)
    .option('--keep-untagged', 'never remove untagged manifests')
    .option('--untagged-grace-hours <hours>', 'remove untagged manifests after HOURS (default gc.untaggedGraceHours)', count)
    .action(async (name: string, flags: PolicyFlags) => {
      await runWithDatabase(flags, async ({ auth, metadata }) => {
        await auth.accounts.getProject(name);
        const stored = await projectPolicies(metadata.policies, Date.now).set(name, policyOf(flags), cliActor.name);
        auth.audit.record({ actor: cliActor.name, source: cliActor.source, action: 'project.policy', project: name, result: 'success', detail: { policy: stored } });
        process.stdout.write(describePolicy(stored));
      });
    });

  withDatabaseFlags(policy.command('reset').description('remove the policy: the defaults apply again'))
    .argument('<project>')
    .action(async (name: string, flags: DatabaseFlags) => {
      await runWithDatabase(flags, async ({ auth, metadata }) => {
        if (await projectPolicies(metadata.policies, Date.now).reset(name)) {
          auth.audit.record({ actor: cliActor.name, source: cliActor.source, action: 'project.policy', project: name, result: 'success', detail: { policy: null } });
        }
        process.stdout.write(describePolicy(undefined));
      });
    });

  withDatabaseFlags(project.command('quota').description("show a project's storage usage and quota, or set it (bytes, e.g. 10GiB; none to remove)"))
    .argument('<project>')
    .argument('[limit]', 'the new quota', parseQuota)
    .option('--json', 'print JSON')
    .action(async (name: string, limit: number | null | undefined, flags: PolicyFlags) => {
      await runWithDatabase(flags, async ({ auth, metadata }) => {
        await auth.accounts.getProject(name);
        const quotas = projectQuotas(metadata.policies);
        const view = limit === undefined ? await quotas.get(name) : await quotas.set(name, limit);
        if (limit !== undefined) auth.audit.record({ actor: cliActor.name, source: cliActor.source, action: 'project.quota', project: name, result: 'success', detail: { limitBytes: limit } });
        process.stdout.write(flags.json ? `${JSON.stringify(view, null, 2)}\n` : describeQuota(view));
      });
    });
}
