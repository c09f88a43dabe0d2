import { ThemeToggle } from './components/theme-toggle';
import { AuditPage } from './pages/audit';
import { GcPage } from './pages/gc';
import { GcRunPage } from './pages/gc-run';
import { HealthPage } from './pages/health';
import { ImagePage } from './pages/image';
import { ProjectPage } from './pages/project';
import { ProjectsPage } from './pages/projects';
import { ReplicationPage } from './pages/replication';
import { RepositoriesPage } from './pages/repositories';
import { RepositoryPage } from './pages/repository';
import { SignInPage } from './pages/sign-in';
import { UsersPage } from './pages/users';
import { WebhookPage } from './pages/webhook';
import { WebhooksPage } from './pages/webhooks';
import { Link, navigate, routes, useLocation } from './router';
import { useSession } from './session';

function Page({ path, query }: { path: string; query: URLSearchParams }) {
  const next = query.get('next');
  const decoded = decodeURIComponent(path);
  if (path === '/' || path === '/repositories') return <RepositoriesPage />;
  if (path === '/sign-in') return <SignInPage next={next} />;
  if (path === '/projects') return <ProjectsPage />;
  if (path === '/audit') return <AuditPage />;
  if (path === '/users') return <UsersPage />;
  if (path === '/health') return <HealthPage />;
  if (path === '/gc') return <GcPage />;
  if (path === '/replication') return <ReplicationPage />;
  let match = /^\/gc\/([^/]+)$/.exec(decoded);
  if (match?.[1]) return <GcRunPage key={match[1]} id={match[1]} />;
  if (path === '/webhooks') return <WebhooksPage key={query.toString()} project={query.get('project')} />;
  match = /^\/webhooks\/([^/]+)$/.exec(decoded);
  if (match?.[1]) return <WebhookPage key={match[1]} id={match[1]} />;
  match = /^\/projects\/([^/]+)$/.exec(decoded);
  if (match?.[1]) return <ProjectPage name={match[1]} />;
  // `/repositories/<name with slashes>/-/<reference>` or `/repositories/<name>`.
  match = /^\/repositories\/(.+)\/-\/([^/]+)$/.exec(path);
  if (match?.[1] && match[2]) return <ImagePage key={path} name={match[1]} reference={decodeURIComponent(match[2])} />;
  match = /^\/repositories\/(.+)$/.exec(path);
  if (match?.[1]) return <RepositoryPage key={path} name={match[1]} />;
  return (
    <main id="main">
      <h1>Not found</h1>
      <p>
        <Link to={routes.repositories()}>Go to the repositories</Link>
      </p>
    </main>
  );
}

const NAV: Array<[string, string]> = [
  [routes.repositories(), 'Repositories'],
  [routes.projects(), 'Projects'],
  [routes.audit(), 'Audit log'],
  [routes.health(), 'Health'],
];

export function App() {
  const { path, query } = useLocation();
  const { user, signOut } = useSession();
  const section = path === '/' ? '/repositories' : '/' + (path.split('/')[1] ?? '');
  // Signed-in admins manage every account, everyone else their own (in every auth mode); system
  // admins also see every webhook (project admins reach their project's from its page), run
  // replication and garbage collection.
  const withWebhooks: Array<[string, string]> = user?.admin ? [...NAV.slice(0, 2), [routes.webhooks(), 'Webhooks'], ...NAV.slice(2)] : NAV;
  const nav: Array<[string, string]> = [
    ...withWebhooks,
    ...(user?.admin ? [[routes.replication(), 'Replication'] as [string, string]] : []),
    ...(user ? [[routes.users(), user.admin ? 'Users' : 'Account'] as [string, string]] : []),
    ...(user?.admin ? [[routes.gc(), 'Garbage collection'] as [string, string]] : []),
  ];

  return (
    <>
      <a href="#main" className="skip">Skip to content</a>
      <header className="top">
        <Link to="/" className="brand">
          <img src="/favicon.svg" alt="" width={24} height={24} /> Wharf
        </Link>
        <nav aria-label="Main">
          <ul>
            {nav.map(([to, label]) => (
              <li key={to}>
                <Link to={to} aria-current={section === to ? 'page' : undefined}>
                  {label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="account">
          <ThemeToggle />
          {user === undefined ? null : user ? (
            <>
              <span className="who" title={user.admin ? 'system admin' : undefined}>
                {user.name}
                {user.admin ? ' (admin)' : ''}
              </span>
              <button type="button" className="button small" onClick={() => signOut().finally(() => navigate(routes.repositories()))}>
                Sign out
              </button>
            </>
          ) : (
            path !== '/sign-in' && (
              <Link className="button small primary" to={`${routes.signIn()}?next=${encodeURIComponent(path + location.search)}`}>
                Sign in
              </Link>
            )
          )}
        </div>
      </header>
      {user !== undefined && <Page path={path} query={query} />}
    </>
  );
}
