import { useCallback, useState, type ReactNode } from 'react';
import { api, get, repoPath } from '../api';
import { ErrorBanner, Facts, Loading, Section } from '../components/common';
import { ConfirmDialog } from '../components/confirm-dialog';
import { CommandLine } from '../components/copy-button';
import { formatAge, formatBytes, formatTime, platformText, shortDigest } from '../format';
import { pullByDigest, pullByTag, useRegistryHost } from '../registry-host';
import { Link, navigate, routes } from '../router';
import type { Image, StaleReason } from '../types';
import { ImageHistory, ImageLineageSection, PromoteDialog, StaleBadge } from './image-workflow';
import { useData } from '../use-data';

const list = (values: string[]) => (values.length ? <code className="break">{JSON.stringify(values)}</code> : <span className="muted">—</span>);

function KeyValues({ values, caption }: { values: Record<string, string>; caption: string }) {
  const entries = Object.entries(values);
  if (entries.length === 0) return <p className="muted">None.</p>;
  return (
    <div className="table-wrap">
      <table className="kv">
        <caption className="visually-hidden">{caption}</caption>
        <tbody>
          {entries.map(([k, v]) => (
            <tr key={k}>
              <th scope="row" className="break">
                {k}
              </th>
              <td className="break">{v}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function ImagePage({ name, reference }: { name: string; reference: string }) {
  const host = useRegistryHost();
  const image = useData(() => get<Image>(repoPath(name, 'manifests', reference)), `${name}@${reference}`);
  const [confirming, setConfirming] = useState(false);
  const [promoting, setPromoting] = useState(false);
  const [stale, setStale] = useState<StaleReason[]>([]);
  const onStale = useCallback((reasons: StaleReason[]) => setStale(reasons), []);
  const data = image.data;
  const isTag = !reference.includes(':');

  return (
    <main id="main">
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to={routes.repositories()}>Repositories</Link> / <Link to={routes.repository(name)}>{name}</Link> /{' '}
        <span aria-current="page">{isTag ? reference : shortDigest(reference)}</span>
      </nav>
      <h1 className="break">
        {name}
        {isTag ? `:${reference}` : `@${shortDigest(reference)}`}
      </h1>
      <StaleBadge reasons={stale} />
      <ErrorBanner error={image.error} />
      <Loading when={image.loading && !data} />
      {data && (
        <>
          <Section
            title="Overview"
            actions={
              <div className="actions">
                <button type="button" className="button small primary" onClick={() => setPromoting(true)}>
                  Promote
                </button>
                <button type="button" className="button small danger" onClick={() => setConfirming(true)}>
                  Delete manifest
                </button>
              </div>
            }
          >
            <Facts
              items={[
                ['Digest', <code className="break">{data.digest}</code>],
                ['Media type', data.mediaType],
                ['Compressed size', formatBytes(data.size)],
                ['Platforms', data.platforms.length ? data.platforms.map((p) => <span key={platformText(p)} className="chip">{platformText(p)}</span>) : '—'],
                ['Tags', data.tags.length ? data.tags.map((t) => <Link key={t} className="chip" to={routes.image(name, t)}>{t}</Link>) : '—'],
                ['Created', formatTime(data.config?.created)],
                ['Pushed', formatAge(data.pushedAt)],
                ['Last pulled', formatAge(data.lastPulledAt)],
                ['Pulls', String(data.pullCount)],
                ...(data.artifactType ? ([['Artifact type', data.artifactType]] as Array<[string, string]>) : []),
                ...(data.subject
                  ? ([['Subject', <Link to={routes.image(name, data.subject)}><code>{shortDigest(data.subject)}</code></Link>]] as Array<[string, ReactNode]>)
                  : []),
              ]}
            />
            <h3>Pull</h3>
            {isTag && <CommandLine command={pullByTag(host, name, reference)} label="Copy pull command by tag" />}
            <CommandLine command={pullByDigest(host, name, data.digest)} label="Copy pull command by digest" />
          </Section>

          <ImageHistory name={name} reference={data.digest} />
          <ImageLineageSection name={name} reference={data.digest} onStale={onStale} />

          {data.kind === 'index' && (
            <Section title="Platforms">
              <div className="table-wrap">
                <table>
                  <caption className="visually-hidden">Manifests of this index</caption>
                  <thead>
                    <tr>
                      <th scope="col">Platform</th>
                      <th scope="col">Digest</th>
                      <th scope="col" className="num">Manifest size</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.manifests.map((m) => (
                      <tr key={m.digest}>
                        <th scope="row">{m.platform ? platformText(m.platform) : <span className="muted">{m.annotations?.['vnd.docker.reference.type'] ?? 'unknown'}</span>}</th>
                        <td>
                          <Link to={routes.image(name, m.digest)}>
                            <code>{shortDigest(m.digest)}</code>
                          </Link>
                        </td>
                        <td className="num">{formatBytes(m.size)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </Section>
          )}

          {data.kind === 'image' && (
            <Section title="Layers">
              <div className="table-wrap">
                <table className="layers">
                  <caption className="visually-hidden">Layers, base first</caption>
                  <thead>
                    <tr>
                      <th scope="col" className="num">#</th>
                      <th scope="col">Command</th>
                      <th scope="col" className="num">Size</th>
                      <th scope="col">Digest</th>
                    </tr>
                  </thead>
                  <tbody>
                    {data.layers.map((l, i) => (
                      <tr key={`${l.digest}-${i}`}>
                        <td className="num">{i + 1}</td>
                        <td className="command-cell">{l.createdBy ? <code className="break">{l.createdBy}</code> : <span className="muted">—</span>}</td>
                        <td className="num">{formatBytes(l.size)}</td>
                        <td>
                          <code title={l.digest}>{shortDigest(l.digest)}</code>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </Section>
          )}

          {data.config && (
            <Section title="Configuration">
              <Facts
                items={[
                  ['Entrypoint', list(data.config.entrypoint)],
                  ['Command', list(data.config.cmd)],
                  ['Working directory', data.config.workingDir ?? '—'],
                  ['User', data.config.user ?? '—'],
                  ['Exposed ports', data.config.exposedPorts.length ? data.config.exposedPorts.join(', ') : '—'],
                  ['Volumes', data.config.volumes.length ? data.config.volumes.join(', ') : '—'],
                  ['Platform', data.config.os ? platformText({ os: data.config.os, architecture: data.config.architecture ?? '?', ...(data.config.variant ? { variant: data.config.variant } : {}) }) : '—'],
                  ['Created', formatTime(data.config.created)],
                ]}
              />
              <h3>Environment</h3>
              {data.config.env.length ? (
                <ul className="plain mono">
                  {data.config.env.map((e, i) => (
                    <li key={i} className="break">
                      {e}
                    </li>
                  ))}
                </ul>
              ) : (
                <p className="muted">None.</p>
              )}
              <h3>Labels</h3>
              <KeyValues values={data.config.labels} caption="Labels" />
            </Section>
          )}

          {data.config && data.config.history.length > 0 && (
            <Section title="History">
              <ol className="history">
                {data.config.history.map((h, i) => (
                  <li key={i}>
                    <code className="break">{h.createdBy ?? h.comment ?? '—'}</code>
                    <span className="muted"> {formatTime(h.created)}{h.emptyLayer ? ' · no layer' : ''}</span>
                  </li>
                ))}
              </ol>
            </Section>
          )}

          {Object.keys(data.annotations).length > 0 && (
            <Section title="Annotations">
              <KeyValues values={data.annotations} caption="Annotations" />
            </Section>
          )}

          <Section title="Referrers">
            {data.referrers.length === 0 && <p className="muted">No signatures, SBOMs or attestations are attached.</p>}
            {data.referrers.map((group) => (
              <div key={group.artifactType}>
                <h3 className="break">{group.artifactType}</h3>
                <ul className="plain">
                  {group.items.map((r) => (
                    <li key={r.digest}>
                      <Link to={routes.image(name, r.digest)}>
                        <code>{shortDigest(r.digest)}</code>
                      </Link>{' '}
                      <span className="muted">{formatBytes(r.size)}</span>
                    </li>
                  ))}
                </ul>
              </div>
            ))}
          </Section>
        </>
      )}
      {promoting && <PromoteDialog name={name} reference={reference} onClose={() => setPromoting(false)} />}
      {confirming && data && (
        <ConfirmDialog
          title="Delete this manifest?"
          confirmLabel="Delete manifest"
          onClose={() => setConfirming(false)}
          onConfirm={async () => {
            await api('DELETE', repoPath(name, 'manifests', data.digest));
            navigate(routes.repository(name));
          }}
        >
          <p>
            The manifest <code className="break">{data.digest}</code> and every tag on it ({data.tags.length ? data.tags.join(', ') : 'none'}) will be
            removed from <strong>{name}</strong>.
          </p>
        </ConfirmDialog>
      )}
    </main>
  );
}
