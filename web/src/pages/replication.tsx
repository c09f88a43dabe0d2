import { useEffect } from 'react';
import { api, get, listOf } from '../api';
import { ErrorBanner, Loading, Pager, Section } from '../components/common';
import { formatBytes, formatTime, shortDigest } from '../format';
import { Link, routes, setQuery, useLocation } from '../router';
import { useSession } from '../session';
import type { ReplicationRule, ReplicationRun, ReplicationRunItem } from '../types';
import { useAction } from '../use-action';
import { useData } from '../use-data';

const LIMIT = 20;
/** How often an unfinished run's progress is re-read. */
const REFRESH_MS = 2_000;

/** The chip colours the audit log uses: green when it worked, red when it failed. */
const tone = (status: string) => (status === 'succeeded' || status === 'done' ? 'result-success' : status === 'failed' ? 'result-failure' : '');

const unfinished = (run: ReplicationRun | null | undefined) => run?.status === 'queued' || run?.status === 'running';

/** Re-reads while `active`: a run's counters grow as it goes. */
function useRefresh(active: boolean, reload: () => void) {
  useEffect(() => {
    if (!active) return undefined;
    const timer = setInterval(reload, REFRESH_MS);
    return () => clearInterval(timer);
  }, [active, reload]);
}

function RunStatus({ run }: { run: ReplicationRun | null }) {
  if (!run) return <span className="muted">never run</span>;
  return <span className={`chip ${tone(run.status)}`}>{run.status}</span>;
}

const imagesText = (run: ReplicationRun) =>
  `${run.images.done} copied, ${run.images.skipped} unchanged, ${run.images.failed} failed of ${run.images.total}`;

const ruleWhat = (rule: ReplicationRule) =>
  rule.pull
    ? `${rule.pull.upstream}: ${rule.pull.repositories.map((r) => (r.tags ? `${r.name} (${r.tags.pattern})` : r.name)).join(', ')}`
    : `${rule.push?.project ?? ''} → ${rule.push?.target.url ?? ''}${rule.push?.target.namespace ? `/${rule.push.target.namespace}` : ''}`;

/** Replication rules with their last run, a rule's runs, and one run's images (docs/replication.md). */
export function ReplicationPage() {
  const { user } = useSession();
  const { query } = useLocation();
  if (!user?.admin) {
    return (
      <main id="main">
        <h1>Replication</h1>
        <p>Replication rules are managed by system administrators.</p>
      </main>
    );
  }
  const run = query.get('run');
  const rule = query.get('rule');
  return (
    <main id="main">
      <h1>Replication</h1>
      <Rules selected={rule} />
      {rule && <Runs rule={rule} offset={Number(query.get('offset') ?? 0) || 0} selected={run} />}
      {run && <RunLog id={run} />}
    </main>
  );
}

function Rules({ selected }: { selected: string | null }) {
  const rules = useData(async () => listOf<ReplicationRule>(await get('/replication/rules'), 'rules'), 'rules');
  const { error, run } = useAction(rules.reload);
  useRefresh(rules.data?.some((r) => unfinished(r.lastRun)) ?? false, rules.reload);

  return (
    <Section title="Rules">
      <ErrorBanner error={rules.error} />
      <ErrorBanner error={error} />
      <Loading when={rules.loading && !rules.data} />
      {rules.data && (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Replication rules</caption>
            <thead>
              <tr>
                <th scope="col">Rule</th>
                <th scope="col">Kind</th>
                <th scope="col">What</th>
                <th scope="col">Schedule</th>
                <th scope="col">Last run</th>
                <th scope="col"><span className="visually-hidden">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {rules.data.map((r) => (
                <tr key={r.id} aria-current={r.name === selected ? 'true' : undefined}>
                  <td>
                    <Link to={routes.replication({ rule: r.name })}>{r.name}</Link>
                    {!r.enabled && <span className="chip"> disabled</span>}
                  </td>
                  <td>{r.kind}</td>
                  <td className="break">
                    {ruleWhat(r)}
                    {r.hasCredentials && <span className="muted"> (credentials stored)</span>}
                  </td>
                  <td>{r.intervalSeconds === null ? 'by hand or trigger' : `every ${r.intervalSeconds} s`}</td>
                  <td>
                    <RunStatus run={r.lastRun} /> {r.lastRun && <span className="muted">{formatTime(r.lastRun.createdAt)}</span>}
                  </td>
                  <td>
                    <button type="button" className="button small" onClick={() => void run(() => api('POST', `/replication/rules/${encodeURIComponent(r.name)}/runs`))}>
                      Run now<span className="visually-hidden"> {r.name}</span>
                    </button>
                  </td>
                </tr>
              ))}
              {rules.data.length === 0 && (
                <tr><td colSpan={6} className="muted">No rules yet: create them with the API or <code>wharf replicate create</code>.</td></tr>
              )}
            </tbody>
          </table>
        </div>
      )}
    </Section>
  );
}

function Runs({ rule, offset, selected }: { rule: string; offset: number; selected: string | null }) {
  const runs = useData(async () => {
    const body = await get<{ total?: number }>('/replication/runs', { rule, limit: LIMIT, offset });
    const items = listOf<ReplicationRun>(body, 'items');
    return { items, total: typeof body?.total === 'number' ? body.total : offset + items.length };
  }, `${rule}|${offset}`);
  useRefresh(runs.data?.items.some(unfinished) ?? false, runs.reload);

  return (
    <Section title={`Runs of ${rule}`}>
      <ErrorBanner error={runs.error} />
      <Loading when={runs.loading && !runs.data} />
      {runs.data && (
        <>
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">Runs of {rule}, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Started</th>
                  <th scope="col">Trigger</th>
                  <th scope="col">Status</th>
                  <th scope="col">Images</th>
                  <th scope="col">Bytes</th>
                  <th scope="col">Blobs</th>
                  <th scope="col">Error</th>
                </tr>
              </thead>
              <tbody>
                {runs.data.items.map((r) => (
                  <tr key={r.id} aria-current={r.id === selected ? 'true' : undefined}>
                    <td className="nowrap">
                      <Link to={routes.replication({ rule, run: r.id })}>{formatTime(r.startedAt ?? r.createdAt)}</Link>
                    </td>
                    <td>{r.trigger}{r.resumed > 0 ? ` (resumed ${r.resumed}×)` : ''}</td>
                    <td><RunStatus run={r} /></td>
                    <td>{imagesText(r)}</td>
                    <td className="nowrap">{formatBytes(r.bytes)}</td>
                    <td>{r.blobs.copied} copied, {r.blobs.skipped} skipped</td>
                    <td className="break">{r.error ?? ''}</td>
                  </tr>
                ))}
                {runs.data.items.length === 0 && (
                  <tr><td colSpan={7} className="muted">No runs yet.</td></tr>
                )}
              </tbody>
            </table>
          </div>
          <Pager offset={offset} limit={LIMIT} total={runs.data.total} onChange={(o) => setQuery({ offset: o || undefined })} />
        </>
      )}
    </Section>
  );
}

function RunLog({ id }: { id: string }) {
  const log = useData(async () => {
    const [run, body] = await Promise.all([get<ReplicationRun>(`/replication/runs/${encodeURIComponent(id)}`), get(`/replication/runs/${encodeURIComponent(id)}/items`, { limit: 500 })]);
    return { run, items: listOf<ReplicationRunItem>(body, 'items') };
  }, id);
  useRefresh(unfinished(log.data?.run), log.reload);

  return (
    <Section title="Run log">
      <ErrorBanner error={log.error} />
      <Loading when={log.loading && !log.data} />
      {log.data && (
        <>
          <p aria-live="polite">
            <RunStatus run={log.data.run} /> {imagesText(log.data.run)}; {formatBytes(log.data.run.bytes)} moved
            {log.data.run.finishedAt ? `; finished ${formatTime(log.data.run.finishedAt)}` : ''}
          </p>
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">Images of the run, in plan order</caption>
              <thead>
                <tr>
                  <th scope="col">Image</th>
                  <th scope="col">Status</th>
                  <th scope="col">Digest</th>
                  <th scope="col">Bytes</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Error</th>
                </tr>
              </thead>
              <tbody>
                {log.data.items.map((item) => (
                  <tr key={item.seq}>
                    <td className="break">{item.repository}:{item.reference}</td>
                    <td><span className={`chip ${tone(item.status)}`}>{item.status}</span></td>
                    <td>{item.digest ? <code title={item.digest}>{shortDigest(item.digest)}</code> : ''}</td>
                    <td className="nowrap">{formatBytes(item.bytes)}</td>
                    <td>{item.attempts}</td>
                    <td className="break">{item.error ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </Section>
  );
}
