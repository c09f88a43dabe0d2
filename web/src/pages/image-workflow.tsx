import { useEffect, useRef, useState, type FormEvent } from 'react';
import { api, get, withQuery } from '../api';
import { ErrorBanner, Loading, Section } from '../components/common';
import { formatTime, shortDigest } from '../format';
import { Link, routes } from '../router';
import type { HistoryEntry, ImageLineage, Lineage, Promotion, StaleReason } from '../types';
import { useData } from '../use-data';

const imageQuery = (repository: string, reference: string) => ({ repository, reference });

/** A link to an image by its first tag, else its digest. */
function ImageLink({ repository, digest, tags }: { repository: string; digest: string; tags: string[] }) {
  const label = tags.length ? `${repository}:${tags.join(', ')}` : `${repository}@${shortDigest(digest)}`;
  return <Link to={routes.image(repository, tags[0] ?? digest)} className="break">{label}</Link>;
}

const movedText = (reasons: StaleReason[]) => reasons.map((r) => `${r.repository}:${r.tag} now points at ${shortDigest(r.now)}`).join('; ');

/** The "Promote" action: a dialog that copies the image to another repository on the server. */
export function PromoteDialog({ name, reference, onClose }: { name: string; reference: string; onClose(): void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const isTag = !reference.includes(':');
  const [target, setTarget] = useState('');
  const [tag, setTag] = useState(isTag ? reference : '');
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [done, setDone] = useState<Promotion>();

  useEffect(() => {
    if (ref.current && !ref.current.open) ref.current.showModal();
  }, []);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      setDone(
        await api<Promotion>('POST', '/promotions', {
          source: { repository: name, reference },
          target: { repository: target.trim(), tag: tag.trim() || null },
          ...(note.trim() ? { note: note.trim() } : {}),
        }),
      );
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <dialog ref={ref} className="dialog" aria-labelledby="promote-title" onClose={onClose} onCancel={onClose}>
      <h2 id="promote-title">Promote {isTag ? `${name}:${reference}` : `${name}@${shortDigest(reference)}`}</h2>
      {done ? (
        <div role="status">
          <p className="notice">
            Promoted to <Link to={routes.image(done.target.repository, done.target.tag ?? done.digest)}>{done.target.repository}{done.target.tag ? `:${done.target.tag}` : ''}</Link>: {done.manifests} manifest(s),{' '}
            {done.referrers} referrer(s), no bytes copied. The digest stays <code>{shortDigest(done.digest)}</code>.
          </p>
          <div className="actions">
            <button type="button" className="button primary" onClick={onClose} autoFocus>Close</button>
          </div>
        </div>
      ) : (
        <form className="form" onSubmit={submit}>
          <p className="muted">The same digest, with all its platforms and its signatures and other referrers, is copied on the server. The target project's stage rules decide.</p>
          <label>
            Target repository
            <input name="target" required placeholder="qa/app" value={target} onChange={(e) => setTarget(e.target.value)} autoFocus />
          </label>
          <label>
            Target tag
            <input name="tag" placeholder="none: by digest only" value={tag} onChange={(e) => setTag(e.target.value)} />
          </label>
          <label>
            Note
            <input name="note" placeholder="e.g. the URL of a test report" maxLength={1000} value={note} onChange={(e) => setNote(e.target.value)} />
          </label>
          <ErrorBanner error={error} />
          <div className="actions">
            <button type="button" className="button" onClick={onClose}>Cancel</button>
            <button type="submit" className="button primary" disabled={busy}>{busy ? 'Promoting…' : 'Promote'}</button>
          </div>
        </form>
      )}
    </dialog>
  );
}

function describe(entry: HistoryEntry): string {
  const where = `${entry.repository}${entry.tag ? `:${entry.tag}` : ''}`;
  const who = entry.actor ? ` by ${entry.actor}` : '';
  if (entry.action === 'pushed') return `pushed to ${where}${who}`;
  if (entry.action === 'tagged') return `tagged ${where} (before history was kept)`;
  const from = entry.from?.repository ? ` from ${entry.from.repository}` : '';
  return `promoted to ${where}${from}${who}`;
}

/** "pushed to dev by alice, promoted to qa by bob, promoted to release by carol". */
export function ImageHistory({ name, reference }: { name: string; reference: string }) {
  const history = useData(() => get<{ history: HistoryEntry[] }>(withQuery('/images/history', imageQuery(name, reference))), `history:${name}@${reference}`);
  return (
    <Section title="Promotion history">
      <ErrorBanner error={history.error} />
      <Loading when={history.loading && !history.data} />
      {history.data && history.data.history.length === 0 && <p className="muted">No pushes or promotions of this digest are recorded.</p>}
      {history.data && history.data.history.length > 0 && (
        <ol className="history promotion-history">
          {history.data.history.map((h, i) => (
            <li key={i}>
              <span>{describe(h)}</span>
              <span className="muted"> · {formatTime(h.time)}</span>
              {h.note && <div className="muted break">{h.note}</div>}
            </li>
          ))}
        </ol>
      )}
    </Section>
  );
}

function LineageBody({ lineage }: { lineage: ImageLineage }) {
  return (
    <>
      <h3>Built on</h3>
      {lineage.builtOn.length === 0 ? (
        <p className="muted">No base image is known.</p>
      ) : (
        <ol className="history built-on">
          {lineage.builtOn.map((b) => (
            <li key={b.digest}>
              {b.repository ? <ImageLink repository={b.repository} digest={b.digest} tags={b.tags} /> : <span>{b.name ?? 'a base image you cannot see'} <code>{shortDigest(b.digest)}</code></span>}
              <span className="muted"> · {b.source === 'annotation' ? 'named by the image' : 'found by its layers'}</span>
              {b.movedOn.length > 0 && <div className="muted">moved on: {movedText(b.movedOn)}</div>}
            </li>
          ))}
        </ol>
      )}
      <h3>Used by</h3>
      {lineage.usedBy.length === 0 ? (
        <p className="muted">No image you can see is built on this one.</p>
      ) : (
        <ul className="plain used-by">
          {lineage.usedBy.map((u) => (
            <li key={`${u.repository}@${u.digest}`}>
              <ImageLink repository={u.repository} digest={u.digest} tags={u.tags} />
              {u.stale && <span className="chip stale"> stale</span>}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

/** The built-on chain, the used-by list and the stale badge. */
export function ImageLineageSection({ name, reference, onStale }: { name: string; reference: string; onStale(reasons: StaleReason[]): void }) {
  const lineage = useData(() => get<Lineage>(withQuery('/images/lineage', imageQuery(name, reference))), `lineage:${name}@${reference}`);
  const data = lineage.data;
  useEffect(() => onStale(data?.stale ? data.staleBecause : []), [data, onStale]);
  return (
    <Section title="Lineage">
      <ErrorBanner error={lineage.error} />
      <Loading when={lineage.loading && !data} />
      {data && <LineageBody lineage={data} />}
      {data?.platforms.map((p) => (
        <div key={p.digest}>
          <h3>Platform {p.platform ?? shortDigest(p.digest)}{p.stale && <span className="chip stale"> stale</span>}</h3>
          <LineageBody lineage={p} />
        </div>
      ))}
    </Section>
  );
}

/** Next to the title: the image is built on a base its tag moved away from. */
export function StaleBadge({ reasons }: { reasons: StaleReason[] }) {
  if (reasons.length === 0) return null;
  return (
    <span className="chip stale" title={`rebuild it: ${movedText(reasons)}`} role="status">
      stale: {movedText(reasons)}
    </span>
  );
}
