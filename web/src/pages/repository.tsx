import { useEffect, useState } from 'react';
import { api, get, repoPath } from '../api';
import { ErrorBanner, Loading, Pager } from '../components/common';
import { ConfirmDialog } from '../components/confirm-dialog';
import { CopyButton } from '../components/copy-button';
import { formatAge, formatBytes, platformText, shortDigest } from '../format';
import { pullByDigest, pullByTag, useRegistryHost } from '../registry-host';
import { Link, routes, setQuery, useLocation } from '../router';
import type { Tag, TagPage } from '../types';
import { useData } from '../use-data';

const LIMIT = 50;

export function RepositoryPage({ name }: { name: string }) {
  const { query } = useLocation();
  const q = query.get('q') ?? '';
  const offset = Number(query.get('offset') ?? 0) || 0;
  const host = useRegistryHost();
  const [text, setText] = useState(q);
  const [deleting, setDeleting] = useState<Tag>();
  const [notice, setNotice] = useState<string>();
  useEffect(() => setText(q), [q]);
  useEffect(() => {
    if (text === q) return;
    const timer = setTimeout(() => setQuery({ q: text, offset: undefined }), 250);
    return () => clearTimeout(timer);
  }, [text, q]);

  const tags = useData(() => get<TagPage>(repoPath(name, 'tags'), { q, limit: LIMIT, offset }), `${name}|${q}|${offset}`);

  return (
    <main id="main">
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to={routes.repositories()}>Repositories</Link> / <span aria-current="page">{name}</span>
      </nav>
      <h1 className="break">{name}</h1>
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      <div className="toolbar" role="search">
        <label className="grow">
          Filter tags
          <input type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder="tag contains…" />
        </label>
      </div>
      <ErrorBanner error={tags.error} />
      <Loading when={tags.loading && !tags.data} />
      {tags.data && (
        <>
          <div className="table-wrap">
            <table className="tags">
              <caption className="visually-hidden">Tags of {name}</caption>
              <thead>
                <tr>
                  <th scope="col">Tag</th>
                  <th scope="col">Digest</th>
                  <th scope="col" className="num">Size</th>
                  <th scope="col">Platforms</th>
                  <th scope="col">Pushed</th>
                  <th scope="col">Last pulled</th>
                  <th scope="col" className="num">Pulls</th>
                  <th scope="col">Pull</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {tags.data.items.map((t) => (
                  <tr key={t.name} data-tag={t.name}>
                    <th scope="row">
                      <Link to={routes.image(name, t.name)}>{t.name}</Link>
                    </th>
                    <td>
                      <code title={t.digest}>{shortDigest(t.digest)}</code>
                    </td>
                    <td className="num">{formatBytes(t.size)}</td>
                    <td>
                      {t.platforms.length === 0 ? <span className="muted">{t.artifactType ?? '—'}</span> : t.platforms.map((p) => (
                        <span key={platformText(p)} className="chip">
                          {platformText(p)}
                        </span>
                      ))}
                    </td>
                    <td>
                      <time dateTime={new Date(t.pushedAt).toISOString()}>{formatAge(t.pushedAt)}</time>
                    </td>
                    <td>{formatAge(t.lastPulledAt)}</td>
                    <td className="num">{t.pullCount}</td>
                    <td className="nowrap">
                      <CopyButton text={pullByTag(host, name, t.name)} label={`Copy pull command for ${name}:${t.name}`} caption="Copy :tag" />{' '}
                      <CopyButton text={pullByDigest(host, name, t.digest)} label={`Copy pull-by-digest command for ${name}:${t.name}`} caption="Copy @digest" />
                    </td>
                    <td>
                      <button type="button" className="button small danger" onClick={() => setDeleting(t)} aria-label={`Delete tag ${t.name}`}>
                        Delete
                      </button>
                    </td>
                  </tr>
                ))}
                {tags.data.items.length === 0 && (
                  <tr>
                    <td colSpan={9} className="muted">
                      No tags.
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>
          <Pager offset={offset} limit={LIMIT} total={tags.data.total} onChange={(o) => setQuery({ offset: o || undefined })} />
        </>
      )}
      {deleting && (
        <ConfirmDialog
          title={`Delete tag ${deleting.name}?`}
          confirmLabel="Delete tag"
          onClose={() => setDeleting(undefined)}
          onConfirm={async () => {
            await api('DELETE', repoPath(name, 'tags', deleting.name));
            setNotice(`Tag ${deleting.name} deleted.`);
            tags.reload();
          }}
        >
          <p>
            The tag <strong>{name}:{deleting.name}</strong> will be removed. The image stays available by its digest{' '}
            <code>{shortDigest(deleting.digest)}</code> and through any other tag.
          </p>
        </ConfirmDialog>
      )}
    </main>
  );
}
