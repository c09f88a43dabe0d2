import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, ApiError, setCsrfToken } from './api';
import type { Session, UserAccount } from './types';

export type User = Pick<UserAccount, 'name' | 'admin'>;

interface SessionState {
  /** undefined while loading, null when anonymous. */
  user: User | null | undefined;
  /** `none` (images need no sign-in; managing accounts does), `basic` or `token`. */
  authMode: string | undefined;
  signIn(username: string, password: string): Promise<void>;
  signOut(): Promise<void>;
}

const SessionContext = createContext<SessionState | undefined>(undefined);

function userOf(body: Session | undefined): User | null {
  return body?.user ? { name: body.user.name, admin: body.user.admin } : null;
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const [authMode, setAuthMode] = useState<string>();

  useEffect(() => {
    api<Session>('GET', '/session')
      .then((body) => {
        setCsrfToken(body?.csrfToken ?? undefined);
        setAuthMode(body?.authMode);
        setUser(userOf(body));
      })
      .catch(() => setUser(null));
  }, []);

  const signIn = useCallback(async (username: string, password: string) => {
    const body = await api<Session>('POST', '/session', { username, password });
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
