import { useState, type FormEvent } from 'react';
import { api, get, listOf } from '../api';
import { ErrorBanner, Loading, Section } from '../components/common';
import { formatAge } from '../format';
import { Link, routes } from '../router';
import { useSession } from '../session';
import type { Project } from '../types';
import { useData } from '../use-data';

export function ProjectsPage() {
  const { user } = useSession();
  const projects = useData(async () => listOf<Project>(await get('/projects'), 'projects'), 'projects');
  const [name, setName] = useState('');
  const [isPublic, setPublic] = useState(false);
  const [error, setError] = useState<string>();

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    try {
      await api('POST', '/projects', { name, public: isPublic });
      setName('');
      setPublic(false);
      projects.reload();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };

  return (
    <main id="main">
      <h1>Projects</h1>
      <ErrorBanner error={projects.error} />
      <Loading when={projects.loading && !projects.data} />
      {projects.data && (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Projects</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Visibility</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {projects.data.map((p) => (
                <tr key={p.name}>
                  <th scope="row">
                    <Link to={routes.project(p.name)}>{p.name}</Link>
                  </th>
                  <td>
                    <span className={p.public ? 'chip public' : 'chip'}>{p.public ? 'public' : 'private'}</span>
                  </td>
                  <td>{formatAge(p.createdAt)}</td>
                </tr>
              ))}
              {projects.data.length === 0 && (
                <tr>
                  <td colSpan={3} className="muted">
                    No projects you can see.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      )}
      {user && (
        <Section title="New project">
          <form className="form inline" onSubmit={create}>
            <label>
              Name
              <input name="project" required pattern="[a-z0-9]+([._-][a-z0-9]+)*" value={name} onChange={(e) => setName(e.target.value)} />
            </label>
            <label className="check">
              <input type="checkbox" checked={isPublic} onChange={(e) => setPublic(e.target.checked)} /> Public (anyone may pull)
            </label>
            <button type="submit" className="button primary">
              Create project
            </button>
          </form>
          <ErrorBanner error={error} />
        </Section>
      )}
    </main>
  );
}
