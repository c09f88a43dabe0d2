import { useEffect } from 'react';
import { get } from '../api';
import { ErrorBanner, Facts, Loading, Section } from '../components/common';
import { formatBytes, formatTime, shortDigest } from '../format';
import { Link, routes } from '../router';
import type { GcRunDetail } from '../types';
import { useData } from '../use-data';
import { removedText, statusChip } from './gc';

/** Rows shown per kind; the API holds up to 10,000 of each. */
const SHOWN = 200;

function Items<T>({ title, items, head, row }: { title: string; items: T[]; head: string[]; row: (item: T) => Array<string | number> }) {
  if (items.length === 0) return null;
  return (
    <Section title={`${title} (${items.length})`}>
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">{title}</caption>
          <thead>
            <tr>{head.map((h) => <th key={h} scope="col">{h}</th>)}</tr>
          </thead>
          <tbody>
            {items.slice(0, SHOWN).map((item, i) => (
              <tr key={i}>{row(item).map((cell, j) => (j === 0 ? <th key={j} scope="row" className="break">{cell}</th> : <td key={j} className="break">{cell}</td>))}</tr>
            ))}
          </tbody>
        </table>
      </div>
      {items.length > SHOWN && <p className="muted">The first {SHOWN} of {items.length}; the API and `wharf gc --json` list them all.</p>}
    </Section>
  );
}

/** One run's report; refreshed every second while it runs. */
export function GcRunPage({ id }: { id: string }) {
  const run = useData(() => get<GcRunDetail>(`/gc/runs/${encodeURIComponent(id)}`), `gc-run:${id}`);
  const running = run.data?.status === 'running';
  useEffect(() => {
    if (!running) return;
    const timer = setTimeout(run.reload, 1000);
    return () => clearTimeout(timer);
  }, [running, run.data, run.reload]);
  const data = run.data;
  const verb = data?.dryRun ? 'Would remove' : 'Removed';
  return (
    <main id="main">
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to={routes.gc()}>Garbage collection</Link> / <span aria-current="page">Run</span>
      </nav>
      <h1>{data?.dryRun ? 'Dry run' : 'Garbage collection run'}</h1>
      <ErrorBanner error={run.error} />
      <Loading when={run.loading && !data} />
      {data && (
        <>
          <Section title="Report">
            <Facts
              items={[
                ['Status', statusChip(data)],
                ['Started', formatTime(data.startedAt)],
                ['Took', data.durationMs === null ? 'still running…' : `${(data.durationMs / 1000).toFixed(1)} s`],
                ['By', `${data.actor} (${data.trigger})${data.project ? ` · project ${data.project}` : ''}`],
                [verb, removedText(data)],
                ['Links', data.links],
                ['Bytes freed', formatBytes(data.bytesFreed)],
                ['Failed deletions', data.failed],
                ['Grace', `${data.graceSeconds} s`],
              ]}
            />
            {data.error && <ErrorBanner error={data.error} />}
          </Section>
          <Items title="Tags" items={data.items.tags} head={['Tag', 'Digest', 'Rule']} row={(t) => [`${t.repository}:${t.tag}`, shortDigest(t.digest), t.reason]} />
          <Items title="Manifests" items={data.items.manifests} head={['Manifest', 'Size']} row={(m) => [`${m.repository}@${shortDigest(m.digest)}`, formatBytes(m.size)]} />
          <Items title="Blobs" items={data.items.blobs} head={['Digest', 'Size']} row={(b) => [shortDigest(b.digest), formatBytes(b.size)]} />
          <Items title="Orphan objects" items={data.items.orphans} head={['Digest', 'Size']} row={(b) => [shortDigest(b.digest), formatBytes(b.size)]} />
          <Items title="Uploads" items={data.items.uploads} head={['Upload', 'Size']} row={(u) => [u.id, formatBytes(u.size)]} />
        </>
      )}
    </main>
  );
}
