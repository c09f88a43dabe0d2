import { get } from '../api';
import { ErrorBanner, Facts, Loading, Section } from '../components/common';
import { formatBytes } from '../format';
import { Link, routes } from '../router';
import type { Usage } from '../types';
import { useData } from '../use-data';

export function HealthPage() {
  const usage = useData(() => get<Usage>('/usage'), 'usage');
  const data = usage.data;
  const largest = Math.max(1, ...(data?.projects.map((p) => p.size) ?? [1]));
  return (
    <main id="main">
      <h1>Health and usage</h1>
      <ErrorBanner error={usage.error} />
      <Loading when={usage.loading && !data} />
      {data && (
        <>
          {data.counts && (
            <Section title="Registry">
              <Facts
                items={[
                  ['Repositories', data.counts.repositories],
                  ['Tags', data.counts.tags],
                  ['Manifests', data.counts.manifests],
                  ['Blobs', data.counts.blobs],
                  ['Blob storage', formatBytes(data.counts.blobBytes)],
                ]}
              />
            </Section>
          )}
          <Section title="Storage per project">
            <div className="table-wrap">
              <table>
                <caption className="visually-hidden">Storage used per project</caption>
                <thead>
                  <tr>
                    <th scope="col">Project</th>
                    <th scope="col" className="num">Repositories</th>
                    <th scope="col" className="num">Storage</th>
                    <th scope="col"><span className="visually-hidden">Share</span></th>
                  </tr>
                </thead>
                <tbody>
                  {data.projects.map((p) => (
                    <tr key={p.name}>
                      <th scope="row">
                        <Link to={`${routes.repositories()}?q=${encodeURIComponent(p.name)}`}>{p.name}</Link>
                      </th>
                      <td className="num">{p.repositories}</td>
                      <td className="num">{formatBytes(p.size)}</td>
                      <td className="bar-cell">
                        <meter min={0} max={largest} value={p.size} aria-label={`${p.name} share of the largest project`} />
                      </td>
                    </tr>
                  ))}
                  {data.projects.length === 0 && (
                    <tr><td colSpan={4} className="muted">Nothing stored yet.</td></tr>
                  )}
                </tbody>
              </table>
            </div>
          </Section>
          <Section title="Mirror cache">
            {data.mirror ? (
              <Facts
                items={[
                  ['Hit rate', data.mirror.hitRate === null ? '—' : `${(data.mirror.hitRate * 100).toFixed(1)} %`],
                  ['Hits', data.mirror.hits],
                  ['Misses', data.mirror.misses],
                ]}
              />
            ) : (
              <p className="muted">No mirror is configured, or it has no figures yet.</p>
            )}
          </Section>
          <Section title="Maintenance">
            <p>
              Unreferenced content is deleted by <Link to={routes.gc()}>garbage collection</Link> (system administrators run it and
              read its reports there); project retention policies and quotas are on each project's page.
            </p>
          </Section>
        </>
      )}
    </main>
  );
}
