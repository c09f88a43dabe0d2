import { useEffect, useState } from 'react';
import { get } from '../api';
import { ErrorBanner, Loading, Pager } from '../components/common';
import { formatAge, formatBytes } from '../format';
import { Link, routes, setQuery, useLocation } from '../router';
import type { RepositoryPage } from '../types';
import { useData } from '../use-data';

const LIMIT = 25;
const SORTS = [
  ['name', 'Name'],
  ['pushed', 'Last push'],
  ['size', 'Size'],
  ['tags', 'Tag count'],
] as const;

export function RepositoriesPage() {
  const { query } = useLocation();
  const q = query.get('q') ?? '';
  const sort = query.get('sort') ?? 'name';
  const order = query.get('order') ?? (sort === 'name' ? 'asc' : 'desc');
  const offset = Number(query.get('offset') ?? 0) || 0;
  const [text, setText] = useState(q);
  useEffect(() => setText(q), [q]);

  // Search as you type, a moment after the last key.
  useEffect(() => {
    if (text === q) return;
    const timer = setTimeout(() => setQuery({ q: text, offset: undefined }), 250);
    return () => clearTimeout(timer);
  }, [text, q]);

  const repos = useData(
    () => get<RepositoryPage>('/repositories', { q, sort, order, limit: LIMIT, offset }),
    `${q}|${sort}|${order}|${offset}`,
  );

  return (
    <main id="main">
      <h1>Repositories</h1>
      <div className="toolbar" role="search">
        <label className="grow">
          Search
          <input type="search" value={text} placeholder="name contains…" onChange={(e) => setText(e.target.value)} />
        </label>
        <label>
          Sort by
          <select value={sort} onChange={(e) => setQuery({ sort: e.target.value, order: undefined, offset: undefined })}>
            {SORTS.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Order
          <select value={order} onChange={(e) => setQuery({ order: e.target.value, offset: undefined })}>
            <option value="asc">Ascending</option>
            <option value="desc">Descending</option>
          </select>
        </label>
      </div>
      <ErrorBanner error={repos.error} />
      <Loading when={repos.loading && !repos.data} />
      {repos.data && (
        <>
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">Repositories</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col" className="num">Tags</th>
                  <th scope="col" className="num">Size</th>
                  <th scope="col">Last push</th>
                </tr>
              </thead>
              <tbody>
                {repos.data.items.map((r) => (
                  <tr key={r.name}>
                    <th scope="row">
                      <Link to={routes.repository(r.name)}>{r.name}</Link>
                    </th>
                    <td className="num">{r.tagCount}</td>
                    <td className="num">{formatBytes(r.size)}</td>
                    <td>{formatAge(r.lastPush)}</td>
                  </tr>
                ))}
                {repos.data.items.length === 0 && (
                  <tr>
                    <td colSpan={4} className="muted">
                      {q ? 'No repository matches.' : 'No repositories yet — push an image to create one.'}
                    </td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>
          <Pager offset={offset} limit={LIMIT} total={repos.data.total} onChange={(o) => setQuery({ offset: o || undefined })} />
        </>
      )}
    </main>
  );
}
