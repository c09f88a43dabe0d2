import { useState, type FormEvent } from 'react';
import { api, get, withQuery } from '../api';
import { ErrorBanner, Loading, Section } from '../components/common';
import { CommandLine } from '../components/copy-button';
import { formatAge } from '../format';
import { Link, routes } from '../router';
import { EVENT_TYPES, type Webhook } from '../types';
import { useAction } from '../use-action';
import { useData } from '../use-data';

const DEFAULT_EVENTS: readonly string[] = EVENT_TYPES.filter((e) => e !== 'pull');
const DISTRIBUTION_EVENTS = ['push', 'pull', 'delete', 'promotion'];

function CreateWebhook({ project, onCreated }: { project: string | null; onCreated(): void }) {
  const [url, setUrl] = useState('');
  const [scope, setScope] = useState(project ?? '');
  const [format, setFormat] = useState<'wharf' | 'distribution'>('wharf');
  const [events, setEvents] = useState<Record<string, boolean>>(Object.fromEntries(EVENT_TYPES.map((e) => [e, DEFAULT_EVENTS.includes(e)])));
  const [description, setDescription] = useState('');
  const [secret, setSecret] = useState<string>();
  const { error, run } = useAction(onCreated);
  const allowed = format === 'distribution' ? DISTRIBUTION_EVENTS : [...EVENT_TYPES];

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setSecret(undefined);
    await run(async () => {
      const answer = await api<{ secret?: string }>('POST', '/webhooks', {
        project: scope.trim() || null,
        url: url.trim(),
        format,
        events: allowed.filter((e) => events[e]),
        ...(description.trim() ? { description: description.trim() } : {}),
      });
      setSecret(answer.secret);
      setUrl('');
      setDescription('');
    });
  };

  return (
    <Section title="New webhook">
      {secret && (
        <div className="secret" role="status">
          <p>
            Webhook created. Copy its signing secret now: <strong>it is shown only once</strong>. Receivers check the <code>X-Wharf-Signature-256</code> header with it.
          </p>
          <CommandLine command={secret} label="Copy webhook secret" />
          <button type="button" className="button small" onClick={() => setSecret(undefined)}>I have stored it</button>
        </div>
      )}
      <form className="form" onSubmit={create}>
        <label>
          Receiver URL
          <input name="url" type="url" required placeholder="https://ci.example.com/hooks/wharf" value={url} onChange={(e) => setUrl(e.target.value)} />
        </label>
        <label>
          Project
          <input name="project" placeholder="empty: registry-wide (system admins)" value={scope} onChange={(e) => setScope(e.target.value)} disabled={project !== null} />
        </label>
        <label>
          Payload format
          <select name="format" value={format} onChange={(e) => setFormat(e.target.value as 'wharf' | 'distribution')}>
            <option value="wharf">Wharf events</option>
            <option value="distribution">CNCF Distribution notification envelope</option>
          </select>
        </label>
        <fieldset className="checks wrap">
          <legend>Events</legend>
          {allowed.map((e) => (
            <label key={e} className="check">
              <input type="checkbox" checked={events[e] ?? false} onChange={(x) => setEvents({ ...events, [e]: x.target.checked })} /> {e}
            </label>
          ))}
        </fieldset>
        <label>
          Description
          <input name="description" value={description} onChange={(e) => setDescription(e.target.value)} />
        </label>
        <div className="actions">
          <button type="submit" className="button primary">Create webhook</button>
        </div>
        <ErrorBanner error={error} />
      </form>
    </Section>
  );
}

/** Webhook endpoints: of one project (`?project=`), or all of them for system admins. */
export function WebhooksPage({ project }: { project: string | null }) {
  const hooks = useData(() => get<{ webhooks: Webhook[] }>(withQuery('/webhooks', { project: project ?? undefined })), `webhooks:${project ?? ''}`);
  const { error, run } = useAction(hooks.reload);
  return (
    <main id="main">
      <nav aria-label="Breadcrumb" className="crumbs">
        {project ? (
          <>
            <Link to={routes.projects()}>Projects</Link> / <Link to={routes.project(project)}>{project}</Link> / <span aria-current="page">Webhooks</span>
          </>
        ) : (
          <span aria-current="page">Webhooks</span>
        )}
      </nav>
      <h1>Webhooks{project ? ` of ${project}` : ''}</h1>
      <ErrorBanner error={hooks.error} />
      <Loading when={hooks.loading && !hooks.data} />
      {hooks.data && (
        <Section title="Endpoints">
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">Webhook endpoints</caption>
              <thead>
                <tr>
                  <th scope="col">Receiver</th>
                  <th scope="col">Project</th>
                  <th scope="col">Events</th>
                  <th scope="col">Format</th>
                  <th scope="col">State</th>
                  <th scope="col"><span className="visually-hidden">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                {hooks.data.webhooks.map((w) => (
                  <tr key={w.id}>
                    <th scope="row" className="break">
                      <Link to={routes.webhook(w.id)}>{w.url}</Link>
                      {w.description && <div className="muted">{w.description}</div>}
                      <div className="muted">by {w.createdBy}, {formatAge(w.createdAt)}</div>
                    </th>
                    <td>{w.project ?? <span className="chip">registry-wide</span>}</td>
                    <td>{w.events.map((e) => <span key={e} className="chip">{e}</span>)}</td>
                    <td>{w.format}</td>
                    <td>{w.enabled ? <span className="chip public">enabled</span> : <span className="chip">disabled</span>}</td>
                    <td>
                      <button type="button" className="button small" aria-label={`${w.enabled ? 'Disable' : 'Enable'} ${w.url}`} onClick={() => run(() => api('PATCH', `/webhooks/${encodeURIComponent(w.id)}`, { enabled: !w.enabled }))}>
                        {w.enabled ? 'Disable' : 'Enable'}
                      </button>
                    </td>
                  </tr>
                ))}
                {hooks.data.webhooks.length === 0 && (
                  <tr><td colSpan={6} className="muted">No webhooks.</td></tr>
                )}
              </tbody>
            </table>
          </div>
          <ErrorBanner error={error} />
        </Section>
      )}
      {!hooks.error && <CreateWebhook project={project} onCreated={hooks.reload} />}
    </main>
  );
}
