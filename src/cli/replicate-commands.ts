import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import YAML from 'yaml';
import type { WharfConfig } from '../config/index.js';
import { openSecretBox } from '../lib/secret-box.js';
import type { RunItem, RunRecord } from '../metadata/replication-runs.js';
import { replicationService, type ReplicationService } from '../replication/service.js';
import { exitCodes } from './config-commands.js';
import { readPassword, runWithDatabase, withDatabaseFlags, type DatabaseFlags, type Services } from './open-for-cli.js';

const cliActor = { name: 'cli', source: 'local' };

/** The replication service over the CLI's database, sealing credentials with the server's key. */
async function serviceFor({ auth, metadata }: Services, config: WharfConfig): Promise<ReplicationService> {
  const secrets = await openSecretBox(metadata.webhooks, { name: 'replication.encryptionKey', value: config.replication.encryptionKey }, Date.now());
  return replicationService({
    metadata,
    secrets,
    upstreams: new Set(config.mirror.upstreams.map((u) => u.name)),
    now: Date.now,
    audit: (actor, action, rule, detail) => auth.audit.record({ actor: actor.name, source: actor.source, action, reference: rule, result: 'success', ...(detail ? { detail } : {}) }),
  });
}

const write = (line: string): void => void process.stdout.write(`${line}\n`);
const printJson = (value: unknown): void => write(JSON.stringify(value, null, 2));
const when = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString());

function mebibytes(bytes: number): string {
  return bytes < 1 << 20 ? `${bytes} B` : `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}

function runLine(run: RunRecord): string {
  const images = `${run.imagesDone} done, ${run.imagesSkipped} unchanged, ${run.imagesFailed} failed of ${run.imagesTotal}`;
  const blobs = `${run.blobsCopied} blobs copied, ${run.blobsSkipped} skipped`;
  return `${run.id}\t${run.status}\t${run.trigger}\t${when(run.createdAt)}\timages: ${images}\t${mebibytes(run.bytes)}, ${blobs}${run.error ? `\terror: ${run.error}` : ''}`;
}

const itemLine = (item: RunItem) => `${item.repository}:${item.reference}\t${item.status}\t${item.digest ?? '-'}\t${mebibytes(item.bytes)}\tattempts ${item.attempts}${item.error ? `\t${item.error}` : ''}`;

/** Reads a rule definition (the API's body) from a YAML or JSON file, `-` for standard input. */
async function readRule(file: string): Promise<Record<string, unknown>> {
  let text = '';
  if (file === '-') for await (const chunk of process.stdin) text += String(chunk);
  else text = await readFile(file, 'utf8');
  const value: unknown = YAML.parse(text);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${file}: a rule is a YAML or JSON object`);
  return value as Record<string, unknown>;
}

/** Polls the run until it ends, printing its progress when it changes; false when it failed. */
async function follow(service: ReplicationService, id: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const run = await service.getRun(id);
    const line = `${run.status}: ${run.imagesDone + run.imagesSkipped + run.imagesFailed}/${run.imagesTotal} images, ${mebibytes(run.bytes)}, ${run.blobsCopied} blobs copied, ${run.blobsSkipped} skipped`;
    if (line !== last) process.stderr.write(`${line}\n`);
    last = line;
    if (run.status === 'succeeded' || run.status === 'failed') {
      for (const item of (await service.runItems(id, { limit: 1000, offset: 0 })).items) if (item.status === 'failed') write(itemLine(item));
      write(runLine(run));
      return run.status === 'succeeded';
    }
    if (Date.now() > deadline) throw new Error(`run ${id} is still ${run.status}: is an instance with replication.enabled serving this database?`);
    await sleep(1_000);
  }
}

/** `wharf replicate list|show|create|update|delete|run|runs|log`: replication rules and their runs. */
export function registerReplicateCommands(program: Command): void {
  const replicate = program.command('replicate').description('replication rules (docs/replication.md): keep upstream images pinned, copy releases to other registries');
  const withService = (flags: DatabaseFlags, work: (service: ReplicationService) => Promise<void>) =>
    runWithDatabase(flags, async (services, config) => work(await serviceFor(services, config)));

  withDatabaseFlags(replicate.command('list').description('list rules with their last run'))
    .option('--json', 'print JSON')
    .action(async (flags: DatabaseFlags & { json?: boolean }) => {
      await withService(flags, async (service) => {
        const rules = await service.listRules();
        if (flags.json) return printJson(rules);
        for (const r of rules) {
          const what = r.pull ? `${r.pull.upstream}: ${r.pull.repositories.map((x) => x.name).join(' ')}` : `${r.push!.project} → ${r.push!.target.url}`;
          write(`${r.name}\t${r.kind}\t${r.enabled ? 'enabled' : 'disabled'}\t${r.intervalSeconds === null ? 'no schedule' : `every ${r.intervalSeconds}s`}\t${what}\tlast run: ${r.lastRun?.status ?? 'never'}`);
        }
      });
    });

  withDatabaseFlags(replicate.command('show').description('a rule as JSON (never its credentials), with what a pull rule keeps pinned'))
    .argument('<rule>')
    .action(async (name: string, flags: DatabaseFlags) => {
      await withService(flags, async (service) => {
        const rule = await service.getRule(name);
        printJson(rule.kind === 'pull' ? { ...rule, pins: await service.pins(name) } : rule);
      });
    });

  const credentialFlags = (command: Command) =>
    withDatabaseFlags(command)
      .requiredOption('-f, --file <file>', 'the rule as YAML or JSON, the body of POST /api/v1/replication/rules (- for standard input)')
      .option('-u, --username <user>', 'the push target\'s user; the password comes from a prompt or standard input');
  type RuleFlags = DatabaseFlags & { file: string; username?: string };
  const ruleFrom = async (flags: RuleFlags) => {
    const rule = await readRule(flags.file);
    if (flags.username !== undefined) {
      if (flags.file === '-') throw new Error('--username reads the password from standard input: give the rule with --file <path>');
      rule.credentials = { username: flags.username, password: await readPassword(`password of ${flags.username} at the target: `) };
    }
    return rule;
  };

  credentialFlags(replicate.command('create').description('create a rule')).action(async (flags: RuleFlags) => {
    await withService(flags, async (service) => {
      const rule = await service.createRule(cliActor, await ruleFrom(flags));
      write(`${rule.kind} rule ${rule.name} created${rule.hasCredentials ? ' (credentials stored encrypted)' : ''}`);
    });
  });

  credentialFlags(replicate.command('update').description('replace a rule\'s definition (credentials kept unless given)'))
    .argument('<rule>')
    .action(async (name: string, flags: RuleFlags) => {
      await withService(flags, async (service) => {
        const rule = await service.updateRule(cliActor, name, await ruleFrom(flags));
        write(`rule ${rule.name} updated`);
      });
    });

  withDatabaseFlags(replicate.command('delete').description('delete a rule (a pull rule\'s images stay cached, no longer pinned)'))
    .argument('<rule>')
    .action(async (name: string, flags: DatabaseFlags) => {
      await withService(flags, async (service) => {
        await service.deleteRule(cliActor, name);
        write(`rule ${name} deleted`);
      });
    });

  withDatabaseFlags(replicate.command('run').description('queue a run now; a serving instance picks it up'))
    .argument('<rule>')
    .option('-w, --wait', 'follow the run\'s progress until it ends; exit 1 when it failed')
    .option('--timeout <seconds>', 'how long --wait waits', '3600')
    .action(async (name: string, flags: DatabaseFlags & { wait?: boolean; timeout: string }) => {
      await withService(flags, async (service) => {
        const run = await service.runNow(cliActor, name);
        write(`run ${run.id} of ${name} queued`);
        if (flags.wait && !(await follow(service, run.id, Number(flags.timeout) * 1000))) process.exitCode = exitCodes.runtimeFailure;
      });
    });

  withDatabaseFlags(replicate.command('runs').description('list runs, newest first'))
    .option('-r, --rule <rule>', 'only this rule\'s runs')
    .option('-n, --limit <n>', 'how many', '20')
    .option('--json', 'print JSON')
    .action(async (flags: DatabaseFlags & { rule?: string; limit: string; json?: boolean }) => {
      await withService(flags, async (service) => {
        const { runs } = await service.listRuns({ ...(flags.rule !== undefined ? { rule: flags.rule } : {}), limit: Number(flags.limit), offset: 0 });
        if (flags.json) return printJson(runs);
        const names = new Map((await service.listRules()).map((r) => [r.id, r.name]));
        for (const run of runs) write(`${names.get(run.ruleId) ?? '(deleted)'}\t${runLine(run)}`);
      });
    });

  withDatabaseFlags(replicate.command('log').description('a run\'s execution log: every image with its status, bytes and error'))
    .argument('<run>')
    .option('--json', 'print JSON')
    .action(async (id: string, flags: DatabaseFlags & { json?: boolean }) => {
      await withService(flags, async (service) => {
        const run = await service.getRun(id);
        const { items } = await service.runItems(id, { limit: 10_000, offset: 0 });
        if (flags.json) return printJson({ run, items });
        write(runLine(run));
        write(`started ${when(run.startedAt)}, finished ${when(run.finishedAt)}${run.resumed > 0 ? `, resumed ${run.resumed}×` : ''}`);
        for (const item of items) write(itemLine(item));
      });
    });
}
