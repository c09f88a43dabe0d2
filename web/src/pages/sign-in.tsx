import { useState, type FormEvent } from 'react';
import { ErrorBanner } from '../components/common';
import { navigate, routes } from '../router';
import { useSession } from '../session';

export function SignInPage({ next }: { next: string | null }) {
  const { signIn } = useSession();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await signIn(username, password);
      // Only a path on this site: never an absolute URL from the query string.
      navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : routes.repositories(), true);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
      setBusy(false);
    }
  };

  return (
    <main id="main" className="narrow">
      <h1>Sign in</h1>
      <form className="card form" onSubmit={submit}>
        <label>
          Username
          <input name="username" autoComplete="username" required value={username} onChange={(e) => setUsername(e.target.value)} autoFocus />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        </label>
        <ErrorBanner error={error} />
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <p className="muted">Without signing in you see the public projects.</p>
    </main>
  );
}
