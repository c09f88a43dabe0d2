import { useState } from 'react';
import { api, get, withQuery } from '../api';
import { ErrorBanner, Facts, Loading, Pager, Section } from '../components/common';
import { ConfirmDialog } from '../components/confirm-dialog';
import { formatAge, formatTime } from '../format';
import { Link, navigate, routes } from '../router';
import type { Delivery, Webhook } from '../types';
import { useAction } from '../use-action';
import { useData } from '../use-data';

const LIMIT = 25;

/** One webhook endpoint: its settings and its delivery log, with "redeliver". */
export function WebhookPage({ id }: { id: string }) {
  const path = `/webhooks/${encodeURIComponent(id)}`;
  const hook = useData(() => get<Webhook>(path), `webhook:${id}`);
  const [status, setStatus] = useState('');
  const [offset, setOffset] = useState(0);
  const deliveries = useData(() => get<{ total: number; deliveries: Delivery[] }>(withQuery(`${path}/deliveries`, { status: status || undefined, limit: LIMIT, offset })), `deliveries:${id}:${status}:${offset}`);
  const { error, run } = useAction(deliveries.reload);
  const [removing, setRemoving] = useState(false);
  const [notice, setNotice] = useState<string>();
  const w = hook.data;

  return (
    <main id="main">
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to={routes.webhooks(w?.project)}>Webhooks</Link> / <span aria-current="page">{w?.url ?? id}</span>
      </nav>
      <h1 className="break">{w?.url ?? 'Webhook'}</h1>
      <ErrorBanner error={hook.error} />
      <Loading when={hook.loading && !w} />
      {w && (
        <Section
          title="Endpoint"
          actions={
            <button type="button" className="button small danger" onClick={() => setRemoving(true)}>
              Remove webhook
            </button>
          }
        >
          <Facts
            items={[
              ['Project', w.project ?? 'registry-wide'],
              ['Events', w.events.join(', ')],
              ['Format', w.format === 'distribution' ? 'CNCF Distribution envelope' : 'Wharf events'],
              ['State', w.enabled ? 'enabled' : 'disabled'],
              ['Created', `${formatTime(w.createdAt)} by ${w.createdBy}`],
              ['Secret', 'shown once at creation; rotate it through the API'],
            ]}
          />
        </Section>
      )}
      <Section title="Deliveries">
        <div className="toolbar">
          <label>
            Status
            <select name="status" value={status} onChange={(e) => (setStatus(e.target.value), setOffset(0))}>
              <option value="">all</option>
              <option value="pending">pending</option>
              <option value="delivered">delivered</option>
              <option value="failed">failed</option>
            </select>
          </label>
          <button type="button" className="button" onClick={deliveries.reload}>Refresh</button>
        </div>
        {notice && <p className="notice" role="status">{notice}</p>}
        <ErrorBanner error={deliveries.error ?? error} />
        <Loading when={deliveries.loading && !deliveries.data} />
        {deliveries.data && (
          <div className="table-wrap">
            <table className="deliveries">
              <caption className="visually-hidden">Deliveries, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Event</th>
                  <th scope="col">Status</th>
                  <th scope="col" className="num">Attempts</th>
                  <th scope="col">Last attempt</th>
                  <th scope="col">Last error</th>
                  <th scope="col"><span className="visually-hidden">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                {deliveries.data.deliveries.map((d) => (
                  <tr key={d.id}>
                    <th scope="row">
                      {d.event.type}
                      <div className="muted">{formatAge(d.createdAt)}{d.redeliveryOf ? ' · redelivery' : ''}</div>
                    </th>
                    <td>
                      <span className={`chip status-${d.status}`}>{d.status}</span>
                      {d.status === 'pending' && d.nextAttemptAt && <div className="muted">next {formatTime(d.nextAttemptAt)}</div>}
                    </td>
                    <td className="num">{d.attempts}</td>
                    <td>{d.lastAttemptAt ? `${formatAge(d.lastAttemptAt)}${d.lastStatus ? ` · HTTP ${d.lastStatus}` : ''}` : '—'}</td>
                    <td className="break">{d.lastError ?? '—'}</td>
                    <td>
                      <button
                        type="button"
                        className="button small"
                        aria-label={`Redeliver ${d.event.type} ${d.id}`}
                        onClick={() => run(async () => {
                          await api('POST', `${path}/deliveries/${encodeURIComponent(d.id)}/redeliver`);
                          setNotice(`The ${d.event.type} event is queued again.`);
                        })}
                      >
                        Redeliver
                      </button>
                    </td>
                  </tr>
                ))}
                {deliveries.data.deliveries.length === 0 && (
                  <tr><td colSpan={6} className="muted">No deliveries yet.</td></tr>
                )}
              </tbody>
            </table>
          </div>
        )}
        {deliveries.data && <Pager offset={offset} limit={LIMIT} total={deliveries.data.total} onChange={setOffset} />}
      </Section>
      {removing && w && (
        <ConfirmDialog
          title="Remove this webhook?"
          confirmLabel="Remove webhook"
          onClose={() => setRemoving(false)}
          onConfirm={async () => {
            await api('DELETE', path);
            navigate(routes.webhooks(w.project));
          }}
        >
          <p>Its delivery log goes with it; events not yet delivered are dropped.</p>
        </ConfirmDialog>
      )}
    </main>
  );
}
