import { useState, type FormEvent } from 'react';
import { api, get, listOf } from '../api';
import { ErrorBanner, Loading, Section } from '../components/common';
import { ConfirmDialog } from '../components/confirm-dialog';
import { formatAge } from '../format';
import { useSession } from '../session';
import type { UserAccount } from '../types';
import { useAction } from '../use-action';
import { useData } from '../use-data';

const userPath = (name: string) => `/users/${encodeURIComponent(name)}`;

/** What a row's dialog is doing: deleting the user, or setting their password. */
type Pending = { kind: 'delete' | 'password'; name: string } | undefined;

/** Admins manage every account here; everyone signed in changes their own password. */
export function UsersPage() {
  const { user, authMode } = useSession();
  if (!user) {
    return (
      <main id="main">
        <h1>Account</h1>
        <p>Sign in to manage your account.</p>
        {authMode === 'none' && <p>Images need no sign-in on this registry (auth mode none); users, projects, members and robots are managed by signed-in administrators.</p>}
      </main>
    );
  }
  return (
    <main id="main">
      <h1>{user.admin ? 'Users' : 'Account'}</h1>
      {user.admin && <UserList self={user.name} />}
      <OwnPassword name={user.name} />
    </main>
  );
}

function UserList({ self }: { self: string }) {
  const users = useData(async () => listOf<UserAccount>(await get('/users'), 'users'), 'users');
  const { error, run } = useAction(users.reload);
  const [pending, setPending] = useState<Pending>();
  const [newPassword, setNewPassword] = useState('');

  return (
    <>
      <Section title="Accounts">
        <ErrorBanner error={users.error} />
        <Loading when={users.loading && !users.data} />
        {users.data && (
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">User accounts</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Role</th>
                  <th scope="col">Created</th>
                  <th scope="col"><span className="visually-hidden">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                {users.data.map((u) => (
                  <tr key={u.name}>
                    <th scope="row">{u.name}{u.name === self ? ' (you)' : ''}</th>
                    <td>
                      <span className={u.admin ? 'chip public' : 'chip'}>{u.admin ? 'system admin' : 'user'}</span>
                    </td>
                    <td>{formatAge(u.createdAt)}</td>
                    <td>
                      <div className="actions">
                        <button
                          type="button"
                          className="button small"
                          aria-label={u.admin ? `Remove admin from ${u.name}` : `Make ${u.name} an admin`}
                          onClick={() => run(() => api('PATCH', userPath(u.name), { admin: !u.admin }))}
                        >
                          {u.admin ? 'Remove admin' : 'Make admin'}
                        </button>
                        <button type="button" className="button small" aria-label={`Set password for ${u.name}`} onClick={() => setPending({ kind: 'password', name: u.name })}>
                          Set password
                        </button>
                        <button type="button" className="button small danger" aria-label={`Delete user ${u.name}`} onClick={() => setPending({ kind: 'delete', name: u.name })}>
                          Delete
                        </button>
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <ErrorBanner error={error} />
      </Section>
      <NewUser onCreated={users.reload} />
      {pending?.kind === 'delete' && (
        <ConfirmDialog
          title={`Delete user ${pending.name}?`}
          confirmLabel="Delete user"
          onConfirm={() => api('DELETE', userPath(pending.name)).then(users.reload)}
          onClose={() => setPending(undefined)}
        >
          <p>
            {pending.name} can no longer sign in, and loses every project membership. Robot accounts and images
            stay. Users from the htpasswd file cannot be deleted here.
          </p>
        </ConfirmDialog>
      )}
      {pending?.kind === 'password' && (
        <ConfirmDialog
          title={`Set the password of ${pending.name}`}
          confirmLabel="Set password"
          onConfirm={() => api('PUT', `${userPath(pending.name)}/password`, { password: newPassword })}
          onClose={() => {
            setPending(undefined);
            setNewPassword('');
          }}
        >
          <label>
            New password for {pending.name}
            <input type="password" autoComplete="new-password" value={newPassword} onChange={(e) => setNewPassword(e.target.value)} />
          </label>
        </ConfirmDialog>
      )}
    </>
  );
}

function NewUser({ onCreated }: { onCreated(): void }) {
  const { error, run } = useAction(onCreated);
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [admin, setAdmin] = useState(false);

  const create = async (event: FormEvent) => {
    event.preventDefault();
    if (await run(() => api('POST', '/users', { name, password, admin }))) {
      setName('');
      setPassword('');
      setAdmin(false);
    }
  };

  return (
    <Section title="New user">
      <form className="form inline" onSubmit={create}>
        <label>
          Name
          <input name="username" required autoComplete="off" value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <label>
          Password
          <input type="password" required autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />
        </label>
        <label className="check">
          <input type="checkbox" checked={admin} onChange={(e) => setAdmin(e.target.checked)} /> System admin
        </label>
        <button type="submit" className="button primary">
          Create user
        </button>
      </form>
      <ErrorBanner error={error} />
    </Section>
  );
}

function OwnPassword({ name }: { name: string }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [repeat, setRepeat] = useState('');
  const [done, setDone] = useState(false);
  const { error, run } = useAction(() => setDone(true));

  const change = async (event: FormEvent) => {
    event.preventDefault();
    setDone(false);
    const ok = await run(async () => {
      if (next !== repeat) throw new Error('The new passwords do not match.');
      await api('PUT', `${userPath(name)}/password`, { password: next, currentPassword: current });
    });
    if (ok) [setCurrent, setNext, setRepeat].forEach((clear) => clear(''));
  };

  return (
    <Section title="Your password">
      <form className="form narrow" onSubmit={change}>
        <label>
          Current password
          <input type="password" required autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} />
        </label>
        <label>
          New password
          <input type="password" required autoComplete="new-password" value={next} onChange={(e) => setNext(e.target.value)} />
        </label>
        <label>
          Repeat new password
          <input type="password" required autoComplete="new-password" value={repeat} onChange={(e) => setRepeat(e.target.value)} />
        </label>
        <button type="submit" className="button primary">
          Change password
        </button>
      </form>
      <ErrorBanner error={error} />
      {done && <p role="status">Password changed.</p>}
    </Section>
  );
}
