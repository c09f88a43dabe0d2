import type { Command } from 'commander';
import { openGcForCli } from '../app.js';
import type { GcReport } from '../gc/report.js';
import { formatBytes } from '../lib/format-bytes.js';
import { createLogger } from '../lib/logger.js';
import { exitCodes } from './config-commands.js';
import { loadCliConfig, withDatabaseFlags, type DatabaseFlags } from './open-for-cli.js';

interface GcFlags extends DatabaseFlags {
  dryRun?: boolean;
  project?: string;
  grace?: string;
  json?: boolean;
}

/** `wharf gc`: one garbage collection now, beside running servers (the lease keeps it to one at a time). */
export function registerGcCommand(program: Command): void {
  withDatabaseFlags(program.command('gc').description('collect garbage now: retention, untagged manifests, unreferenced blobs, stale uploads'))
    .option('--dry-run', 'list what a run would remove, remove nothing')
    .option('--project <project>', 'only this project\'s repositories (and the blobs they release)')
    .option('--grace <seconds>', 'leave what was pushed, mounted or linked less than this long ago (default gc.graceSeconds)')
    .option('--json', 'print the report as JSON')
    .action(async (flags: GcFlags) => {
      const code = await runGc(flags);
      if (code !== undefined) process.exitCode = code;
    });
}

async function runGc(flags: GcFlags): Promise<number | undefined> {
  const grace = flags.grace === undefined ? undefined : Number(flags.grace);
  if (grace !== undefined && !(Number.isInteger(grace) && grace >= 0)) {
    process.stderr.write('wharf: --grace takes a whole number of seconds\n');
    return exitCodes.configError;
  }
  const config = loadCliConfig(flags);
  if (!config) return undefined;
  // Logs go to standard error, the report to standard output.
  const log = createLogger('warn', process.stderr);
  let services: Awaited<ReturnType<typeof openGcForCli>> | undefined;
  try {
    services = await openGcForCli(config, log);
    const report = await services.gc.run({
      dryRun: flags.dryRun === true,
      ...(flags.project !== undefined ? { project: flags.project } : {}),
      ...(grace !== undefined ? { graceSeconds: grace } : {}),
      trigger: 'cli',
      actor: 'cli',
    });
    process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report));
    return report.status === 'finished' ? exitCodes.ok : exitCodes.runtimeFailure;
  } catch (error) {
    process.stderr.write(`wharf: ${(error as Error).message}\n`);
    return exitCodes.runtimeFailure;
  } finally {
    await services?.close();
  }
}

/** The report for a terminal: one summary line, then one line per item. */
export function renderReport(report: GcReport): string {
  const verb = report.dryRun ? 'would remove' : 'removed';
  const lines = [
    `gc ${report.dryRun ? 'dry run ' : ''}${report.status} in ${((report.durationMs ?? 0) / 1000).toFixed(1)} s: ${verb} ` +
      `${report.tags} tags, ${report.manifests} manifests, ${report.links} links, ${report.blobs} blobs, ${report.orphans} orphan objects, ` +
      `${report.uploads} uploads (${formatBytes(report.bytesFreed)})${report.failed > 0 ? `; ${report.failed} deletions failed` : ''}`,
  ];
  if (report.error) lines.push(`error: ${report.error}`);
  const items = report.items;
  if (items) {
    for (const t of items.tags) lines.push(`tag\t${t.repository}:${t.tag}\t${t.digest}\t${t.reason}`);
    for (const m of items.manifests) lines.push(`manifest\t${m.repository}@${m.digest}\t${m.size}`);
    for (const l of items.links) lines.push(`link\t${l.repository}\t${l.digest}`);
    for (const b of items.blobs) lines.push(`blob\t${b.digest}\t${b.size}`);
    for (const o of items.orphans) lines.push(`orphan\t${o.digest}\t${o.size}`);
    for (const u of items.uploads) lines.push(`upload\t${u.id}\t${u.size}`);
  }
  return `${lines.join('\n')}\n`;
}
