/**
 * Helpers for the operations tests: Prometheus text parsing and JSON log lines.
 */

/** Sum of every sample of `name` whose labels include all of `labels` (NaN when none match). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = Number.NaN;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = new Map<string, string>();
    for (const pair of (match[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) found.set(pair[1]!, pair[2]!);
    if (!Object.entries(labels).every(([key, value]) => found.get(key) === value)) continue;
    total = (Number.isNaN(total) ? 0 : total) + Number(match[4]);
  }
  return total;
}

export type LogLine = Record<string, unknown> & { msg?: string; level?: string; pid?: number; reqId?: string };

/** The JSON lines of a server's output (other lines, e.g. Node warnings, are skipped). */
export function logLines(output: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(line) as LogLine);
    } catch {
      // a line cut by the capture limit
    }
  }
  return lines;
}

/** Access log lines ("request completed"). */
export const accessLines = (output: string): LogLine[] => logLines(output).filter((line) => line.msg === 'request completed');

/** Polls `condition` until it holds or `timeoutMs` passes (for log lines written just after a reply). */
export async function eventually(condition: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
