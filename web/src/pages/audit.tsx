import { useEffect, useState, type FormEvent } from 'react';
import { get, listOf } from '../api';
import { ErrorBanner, Loading, Pager } from '../components/common';
import { formatTime, shortDigest } from '../format';
import { setQuery, useLocation } from '../router';
import type { AuditEvent } from '../types';
import { useData } from '../use-data';

const LIMIT = 50;
const FIELDS = ['actor', 'project', 'action', 'since', 'until'] as const;
const ACTIONS = ['login', 'push', 'pull', 'delete', 'mount', 'robot.login', 'robot.create', 'robot.revoke', 'member.set', 'member.remove', 'project.create', 'project.visibility', 'project.remove', 'user.create', 'user.password', 'user.admin', 'user.remove', 'token'];

/** `<input type="datetime-local">` value (the browser's time zone) → epoch ms for the API. */
const toMs = (local: string) => {
  const ms = local ? new Date(local).getTime() : NaN;
  return Number.isFinite(ms) ? ms : undefined;
};

export function AuditPage() {
  const { query } = useLocation();
  const offset = Number(query.get('offset') ?? 0) || 0;
  const current = Object.fromEntries(FIELDS.map((f) => [f, query.get(f) ?? ''])) as Record<(typeof FIELDS)[number], string>;
  const [form, setForm] = useState(current);
  const key = FIELDS.map((f) => current[f]).join('|') + `|${offset}`;
  useEffect(() => setForm(current), [key]); // eslint-disable-line react-hooks/exhaustive-deps

  const events = useData(async () => {
    const body = await get<{ total?: number }>('/audit', {
      actor: current.actor,
      project: current.project,
      action: current.action,
      since: toMs(current.since),
      until: toMs(current.until),
      limit: LIMIT,
      offset,
    });
    const items = listOf<AuditEvent>(body, 'events');
    return { items, total: typeof body?.total === 'number' ? body.total : offset + items.length };
  }, key);

  const apply = (event: FormEvent) => {
    event.preventDefault();
    setQuery({ ...form, offset: undefined });
  };

  return (
    <main id="main">
      <h1>Audit log</h1>
      <form className="card form filters" onSubmit={apply} aria-label="Filter the audit log">
        <label>
          Actor
          <input name="actor" value={form.actor} onChange={(e) => setForm({ ...form, actor: e.target.value })} />
        </label>
        <label>
          Project
          <input name="project" value={form.project} onChange={(e) => setForm({ ...form, project: e.target.value })} />
        </label>
        <label>
          Action
          <input name="action" list="audit-actions" value={form.action} onChange={(e) => setForm({ ...form, action: e.target.value })} />
          <datalist id="audit-actions">
            {ACTIONS.map((a) => <option key={a} value={a} />)}
          </datalist>
        </label>
        <label>
          From
          <input name="since" type="datetime-local" value={form.since} onChange={(e) => setForm({ ...form, since: e.target.value })} />
        </label>
        <label>
          To
          <input name="until" type="datetime-local" value={form.until} onChange={(e) => setForm({ ...form, until: e.target.value })} />
        </label>
        <div className="actions">
          <button type="submit" className="button primary">Apply filters</button>
          <button type="button" className="button" onClick={() => setQuery({ actor: undefined, project: undefined, action: undefined, since: undefined, until: undefined, offset: undefined })}>
            Clear
          </button>
        </div>
      </form>
      <ErrorBanner error={events.error} />
      <Loading when={events.loading && !events.data} />
      {events.data && (
        <>
          <div className="table-wrap">
            <table className="audit">
              <caption className="visually-hidden">Audit events, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Action</th>
                  <th scope="col">Target</th>
                  <th scope="col">Result</th>
                  <th scope="col">Source</th>
                </tr>
              </thead>
              <tbody>
                {events.data.items.map((e, i) => (
                  <tr key={`${e.time}-${i}`}>
                    <td className="nowrap">
                      {e.firstTime && e.firstTime !== e.time ? `${formatTime(e.firstTime)} – ` : ''}
                      {formatTime(e.time)}
                    </td>
                    <td>{e.actor}</td>
                    <td>{e.count > 1 ? `${e.action} ×${e.count}` : e.action}</td>
                    <td className="break">
                      {e.repository ?? e.project ?? ''}
                      {e.reference ? `:${e.reference}` : ''}
                      {e.digest ? <code> @{shortDigest(e.digest)}</code> : null}
                    </td>
                    <td>
                      <span className={`chip result-${e.result}`}>{e.result}</span>
                    </td>
                    <td>{e.source ?? ''}</td>
                  </tr>
                ))}
                {events.data.items.length === 0 && (
                  <tr><td colSpan={6} className="muted">No events match.</td></tr>
                )}
              </tbody>
            </table>
          </div>
          <Pager offset={offset} limit={LIMIT} total={events.data.total} onChange={(o) => setQuery({ offset: o || undefined })} />
        </>
      )}
    </main>
  );
}
