import { useEffect, useState, type AnchorHTMLAttributes, type MouseEvent } from 'react';

/** A tiny history router: the console has a handful of pages and needs no library for it. */
const listeners = new Set<() => void>();

export function navigate(to: string, replace = false): void {
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  for (const l of listeners) l();
  window.scrollTo(0, 0);
}

export function useLocation(): { path: string; query: URLSearchParams } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const update = () => setTick((t) => t + 1);
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return { path: location.pathname, query: new URLSearchParams(location.search) };
}

export function Link({ to, onClick, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { to: string }) {
  const handle = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event);
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={handle} {...rest} />;
}

/** Sets the query string of the current page without a new history entry. */
export function setQuery(values: Record<string, string | number | undefined>): void {
  const params = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined || v === '') params.delete(k);
    else params.set(k, String(v));
  }
  const text = params.toString();
  navigate(location.pathname + (text ? `?${text}` : ''), true);
}

/** Console URLs: repository names keep their slashes, `/-/` ends them (as in the API). */
export const routes = {
  repositories: () => '/repositories',
  repository: (name: string) => `/repositories/${name}`,
  image: (name: string, reference: string) => `/repositories/${name}/-/${encodeURIComponent(reference)}`,
  projects: () => '/projects',
  project: (name: string) => `/projects/${encodeURIComponent(name)}`,
  audit: () => '/audit',
  users: () => '/users',
  webhooks: (project?: string | null) => (project ? `/webhooks?project=${encodeURIComponent(project)}` : '/webhooks'),
  webhook: (id: string) => `/webhooks/${encodeURIComponent(id)}`,
  health: () => '/health',
  replication: (query: { rule?: string; run?: string } = {}) => {
    const text = new URLSearchParams(Object.entries(query).filter((entry): entry is [string, string] => entry[1] !== undefined)).toString();
    return `/replication${text ? `?${text}` : ''}`;
  },
  gc: () => '/gc',
  gcRun: (id: string) => `/gc/${encodeURIComponent(id)}`,
  signIn: () => '/sign-in',
};
