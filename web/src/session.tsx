import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, ApiError, setCsrfToken } from './api';

export interface User {
  name: string;
  admin: boolean;
}

interface SessionState {
  /** undefined while loading, null when anonymous. */
  user: User | null | undefined;
  /** `none` (open registry: no sign-in), `basic` or `token`. */
  authMode: string | undefined;
  signIn(username: string, password: string): Promise<void>;
  signOut(): Promise<void>;
}

const SessionContext = createContext<SessionState | undefined>(undefined);

interface SessionBody {
  user?: { name?: string; username?: string; admin?: boolean; isAdmin?: boolean } | null;
  csrfToken?: string | null;
  authMode?: string;
}

function userOf(body: SessionBody | undefined): User | null {
  const u = body?.user;
  const name = u?.name ?? u?.username;
  return name ? { name, admin: Boolean(u?.admin ?? u?.isAdmin) } : null;
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const [authMode, setAuthMode] = useState<string>();

  useEffect(() => {
    api<SessionBody>('GET', '/session')
      .then((body) => {
        setCsrfToken(body?.csrfToken ?? undefined);
        setAuthMode(body?.authMode);
        setUser(userOf(body));
      })
      .catch(() => setUser(null));
  }, []);

  const signIn = useCallback(async (username: string, password: string) => {
    const body = await api<SessionBody>('POST', '/session', { username, password });
    setCsrfToken(body?.csrfToken ?? undefined);
    if (body?.authMode) setAuthMode(body.authMode);
    const signedIn = userOf(body);
    if (!signedIn) throw new ApiError(500, 'UNKNOWN', 'the server did not return a user');
    setUser(signedIn);
  }, []);

  const signOut = useCallback(async () => {
    try {
      await api('DELETE', '/session');
    } finally {
      setCsrfToken(undefined);
      setUser(null);
    }
  }, []);

  const value = useMemo(() => ({ user, authMode, signIn, signOut }), [user, authMode, signIn, signOut]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionState {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside SessionProvider');
  return value;
}
