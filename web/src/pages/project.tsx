import { useState, type FormEvent } from 'react';
import { api, get, listOf } from '../api';
import { ErrorBanner, Loading, Section } from '../components/common';
import { ConfirmDialog } from '../components/confirm-dialog';
import { CommandLine } from '../components/copy-button';
import { formatAge, formatTime } from '../format';
import { Link, routes } from '../router';
import { ROLES, type CreatedRobot, type Member, type Project, type Robot } from '../types';
import { useAction } from '../use-action';
import { useData } from '../use-data';
import { Lifecycle, Quota } from './project-lifecycle';
import { StageRulesSection } from './project-rules';

const base = (project: string) => `/projects/${encodeURIComponent(project)}`;

function Visibility({ project, reload }: { project: Project; reload(): void }) {
  const { error, run } = useAction(reload);
  return (
    <>
      <p>
        This project is <strong>{project.public ? 'public' : 'private'}</strong>
        {project.public ? ': anyone, signed in or not, may pull its images.' : ': only members may pull its images.'}
      </p>
      <button type="button" className="button" onClick={() => run(() => api('PATCH', base(project.name), { public: !project.public }))}>
        Make {project.public ? 'private' : 'public'}
      </button>
      <ErrorBanner error={error} />
    </>
  );
}

function Members({ project }: { project: string }) {
  const members = useData(async () => listOf<Member>(await get(`${base(project)}/members`), 'members'), `members:${project}`);
  const { error, run } = useAction(members.reload);
  const [username, setUsername] = useState('');
  const [role, setRole] = useState<string>('developer');

  const add = async (event: FormEvent) => {
    event.preventDefault();
    if (await run(() => api('PUT', `${base(project)}/members/${encodeURIComponent(username)}`, { role }))) setUsername('');
  };

  return (
    <Section title="Members">
      <ErrorBanner error={members.error} />
      <Loading when={members.loading && !members.data} />
      {members.data && (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Members of {project}</caption>
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Role</th>
                <th scope="col"><span className="visually-hidden">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {members.data.map((m) => (
                <tr key={m.username}>
                  <th scope="row">{m.username}</th>
                  <td>
                    <label>
                      <span className="visually-hidden">Role of {m.username}</span>
                      <select value={m.role} onChange={(e) => run(() => api('PUT', `${base(project)}/members/${encodeURIComponent(m.username)}`, { role: e.target.value }))}>
                        {ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
                      </select>
                    </label>
                  </td>
                  <td>
                    <button type="button" className="button small danger" aria-label={`Remove ${m.username}`} onClick={() => run(() => api('DELETE', `${base(project)}/members/${encodeURIComponent(m.username)}`))}>
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form className="form inline" onSubmit={add}>
        <label>
          Username
          <input name="member" required value={username} onChange={(e) => setUsername(e.target.value)} />
        </label>
        <label>
          Role
          <select name="role" value={role} onChange={(e) => setRole(e.target.value)}>
            {ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
          </select>
        </label>
        <button type="submit" className="button primary">Add member</button>
      </form>
      <ErrorBanner error={error} />
    </Section>
  );
}

interface NewSecret {
  name: string;
  secret: string;
}

function Robots({ project }: { project: string }) {
  const robots = useData(async () => listOf<Robot>(await get(`${base(project)}/robots`), 'robots'), `robots:${project}`);
  const { error, run } = useAction(robots.reload);
  const [name, setName] = useState('');
  const [actions, setActions] = useState<Record<string, boolean>>({ pull: true, push: false, delete: false });
  const [description, setDescription] = useState('');
  const [expiresDays, setExpiresDays] = useState('');
  const [created, setCreated] = useState<NewSecret>();
  const [revoking, setRevoking] = useState<Robot>();

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setCreated(undefined);
    const days = Number(expiresDays);
    await run(async () => {
      const answer = await api<CreatedRobot>('POST', `${base(project)}/robots`, {
        name,
        actions: Object.keys(actions).filter((a) => actions[a]),
        ...(description ? { description } : {}),
        ...(expiresDays && days > 0 ? { expiresInSeconds: Math.round(days * 86_400) } : {}),
      });
      setCreated({ name: answer.robot.name, secret: answer.secret });
      setName('');
      setDescription('');
    });
  };

  return (
    <Section title="Robot accounts">
      {created && (
        <div className="secret" role="status">
          <p>
            Robot <strong>{created.name}</strong> created. Copy its secret now: <strong>it is shown only once</strong>.
          </p>
          <CommandLine command={created.secret} label="Copy robot secret" />
          <button type="button" className="button small" onClick={() => setCreated(undefined)}>I have stored it</button>
        </div>
      )}
      <ErrorBanner error={robots.error} />
      <Loading when={robots.loading && !robots.data} />
      {robots.data && (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Robot accounts of {project}</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Permissions</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">State</th>
                <th scope="col"><span className="visually-hidden">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {robots.data.map((r) => (
                <tr key={r.name}>
                  <th scope="row" className="break">
                    {r.name}
                    {r.description && <div className="muted">{r.description}</div>}
                  </th>
                  <td>{r.actions.join(', ')}</td>
                  <td>{formatAge(r.createdAt)}</td>
                  <td>{r.expiresAt ? formatTime(r.expiresAt) : 'never'}</td>
                  <td>{r.revokedAt ? <span className="chip">revoked</span> : <span className="chip public">active</span>}</td>
                  <td>
                    {!r.revokedAt && (
                      <button type="button" className="button small danger" onClick={() => setRevoking(r)} aria-label={`Revoke ${r.name}`}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
              {robots.data.length === 0 && (
                <tr><td colSpan={6} className="muted">No robot accounts.</td></tr>
              )}
            </tbody>
          </table>
        </div>
      )}
      <form className="form inline" onSubmit={create}>
        <label>
          Robot name
          <input name="robot" required pattern="[a-z0-9]+([._-][a-z0-9]+)*" value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <fieldset className="checks">
          <legend>Permissions</legend>
          {Object.keys(actions).map((a) => (
            <label key={a} className="check">
              <input type="checkbox" checked={actions[a]} onChange={(e) => setActions({ ...actions, [a]: e.target.checked })} /> {a}
            </label>
          ))}
        </fieldset>
        <label>
          Description
          <input name="description" value={description} onChange={(e) => setDescription(e.target.value)} />
        </label>
        <label>
          Expires in days
          <input name="expires" type="number" min="1" inputMode="numeric" value={expiresDays} onChange={(e) => setExpiresDays(e.target.value)} placeholder="never" />
        </label>
        <button type="submit" className="button primary">Create robot</button>
      </form>
      <ErrorBanner error={error} />
      {revoking && (
        <ConfirmDialog
          title={`Revoke ${revoking.name}?`}
          confirmLabel="Revoke"
          onClose={() => setRevoking(undefined)}
          onConfirm={async () => {
            await api('DELETE', `${base(project)}/robots/${encodeURIComponent(revoking.name)}`);
            robots.reload();
          }}
        >
          <p>Clients using this robot's secret will be refused from now on.</p>
        </ConfirmDialog>
      )}
    </Section>
  );
}

export function ProjectPage({ name }: { name: string }) {
  const project = useData(() => get<Project>(base(name)), `project:${name}`);
  return (
    <main id="main">
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to={routes.projects()}>Projects</Link> / <span aria-current="page">{name}</span>
      </nav>
      <h1>{name}</h1>
      <ErrorBanner error={project.error} />
      <Loading when={project.loading && !project.data} />
      {project.data && (
        <>
          <Section title="Visibility">
            <Visibility project={project.data} reload={project.reload} />
            <p>
              <Link to={`${routes.repositories()}?q=${encodeURIComponent(name + '/')}`}>Repositories of {name}</Link>
            </p>
          </Section>
          <Members project={name} />
          <Robots project={name} />
          <Lifecycle project={name} />
          <Quota project={name} />
          <StageRulesSection project={name} />
        </>
      )}
    </main>
  );
}
