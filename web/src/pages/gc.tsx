import { useState } from 'react';
import { api, get } from '../api';
import { ErrorBanner, Facts, Loading, Section } from '../components/common';
import { ConfirmDialog } from '../components/confirm-dialog';
import { formatAge, formatBytes, formatTime } from '../format';
import { Link, navigate, routes } from '../router';
import { useSession } from '../session';
import type { GcRun, GcStatus } from '../types';
import { useAction } from '../use-action';
import { useData } from '../use-data';

/** What a run removed, in one cell: "3 manifests, 12 blobs". */
export function removedText(run: GcRun): string {
  const parts: Array<[number, string]> = [
    [run.tags, 'tag'],
    [run.manifests, 'manifest'],
    [run.blobs, 'blob'],
    [run.orphans, 'orphan object'],
    [run.uploads, 'upload'],
  ];
  const text = parts.filter(([n]) => n > 0).map(([n, what]) => `${n} ${what}${n === 1 ? '' : 's'}`).join(', ');
  return text || 'nothing';
}

export const statusChip = (run: GcRun) => (
  <span className={`chip${run.status === 'finished' ? ' public' : ''}`}>{run.dryRun ? `dry run ${run.status}` : run.status}</span>
);

function Runs({ runs }: { runs: GcRun[] }) {
  return (
    <div className="table-wrap">
      <table>
        <caption className="visually-hidden">Garbage collection runs, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Started</th>
            <th scope="col">By</th>
            <th scope="col">Status</th>
            <th scope="col">{`Removed`}</th>
            <th scope="col" className="num">Freed</th>
            <th scope="col" className="num">Took</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((run) => (
            <tr key={run.id}>
              <th scope="row">
                <Link to={routes.gcRun(run.id)} title={formatTime(run.startedAt)}>{formatAge(run.startedAt)}</Link>
              </th>
              <td>{run.trigger === 'schedule' ? 'schedule' : `${run.actor} (${run.trigger})`}{run.project ? ` · ${run.project}` : ''}</td>
              <td>{statusChip(run)}</td>
              <td>{removedText(run)}</td>
              <td className="num">{formatBytes(run.bytesFreed)}</td>
              <td className="num">{run.durationMs === null ? '…' : `${(run.durationMs / 1000).toFixed(1)} s`}</td>
            </tr>
          ))}
          {runs.length === 0 && (
            <tr><td colSpan={6} className="muted">No run yet.</td></tr>
          )}
        </tbody>
      </table>
    </div>
  );
}

/** Garbage collection for system admins: settings, Run now / Dry run, and the latest runs. */
export function GcPage() {
  const { user } = useSession();
  const status = useData(() => get<GcStatus>('/gc'), 'gc');
  const { error, run } = useAction(status.reload);
  const [confirming, setConfirming] = useState(false);
  const start = (dryRun: boolean) => api<GcRun>('POST', '/gc', { dryRun }).then((started) => navigate(routes.gcRun(started.id)));
  const may = user?.admin === true;
  const data = status.data;

  return (
    <main id="main">
      <h1>Garbage collection</h1>
      {!may && <p>Only system administrators run garbage collection.</p>}
      <ErrorBanner error={status.error} />
      <Loading when={status.loading && !data} />
      {data && (
        <>
          <Section
            title="Settings"
            actions={
              <div className="actions">
                <button type="button" className="button" onClick={() => run(() => start(true))}>Dry run</button>
                <button type="button" className="button primary" onClick={() => setConfirming(true)}>Run now</button>
              </div>
            }
          >
            <Facts
              items={[
                ['Schedule', data.schedule === 'off' ? 'off (on demand only)' : <code>{data.schedule}</code>],
                ['Next run', data.nextRunAt ? `${formatTime(data.nextRunAt)}` : '—'],
                ['Grace for uploads and links', `${data.graceSeconds} s`],
                ['Untagged manifests kept for', `${data.untaggedGraceHours} h (unless a project policy says otherwise)`],
              ]}
            />
            <ErrorBanner error={error} />
          </Section>
          <Section title="Runs">
            <Runs runs={data.runs} />
          </Section>
        </>
      )}
      {confirming && (
        <ConfirmDialog title="Run garbage collection now?" confirmLabel="Run now" onClose={() => setConfirming(false)} onConfirm={() => start(false)}>
          <p>
            It deletes what nothing references, as the dry run lists it, while the registry keeps serving. Deleted images cannot be
            brought back.
          </p>
        </ConfirmDialog>
      )}
    </main>
  );
}
