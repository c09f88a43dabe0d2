import type { FastifyInstance } from 'fastify';
import { randomSecret, sha256Hex } from '../../auth/secrets.js';
import { RegistryError } from '../../errors.js';
import { sourceOf } from '../auth/credentials.js';
import { CSRF_COOKIE, SESSION_COOKIE, checkCsrf, setCookie } from './caller.js';
import { SESSION_SECONDS, type ApiContext } from './context.js';
import { noContent, ref } from './schemas.js';

const sessionReply = ref('Session');

/**
 * Console login. `POST /session` checks the password (rate-limited, audited), stores a session
 * (so every instance knows it) and sets two cookies: `wharf_session` (HttpOnly, SameSite=Strict)
 * and `wharf_csrf` (readable by the console, same value as the returned `csrfToken`).
 */
export function sessionRoutes(app: FastifyInstance, { auth, callers }: ApiContext): void {
  app.post<{ Body: { username: string; password: string } }>(
    '/session',
    {
      config: { public: true },
      schema: {
        summary: 'log in to the console (sets the session cookie)',
        tags: ['session'],
        body: {
          type: 'object',
          required: ['username', 'password'],
          additionalProperties: false,
          properties: { username: { type: 'string', minLength: 1, maxLength: 200 }, password: { type: 'string', maxLength: 1024 } },
        },
        response: { 200: sessionReply },
      },
    },
    async (request, reply) => {
      const { username, password } = request.body;
      const principal = await auth.authenticator.login(username, password, sourceOf(request), 'session');
      if (!principal || principal.kind !== 'user') throw new RegistryError('UNAUTHORIZED', 'invalid username or password');
      const id = randomSecret(32);
      const csrfToken = randomSecret(24);
      const now = auth.now();
      await auth.sessions.create({ idHash: sha256Hex(id), username: principal.name, csrfToken, createdAt: now, expiresAt: now + SESSION_SECONDS * 1000 });
      setCookie(reply, request, SESSION_COOKIE, id, { httpOnly: true, maxAgeSeconds: SESSION_SECONDS });
      setCookie(reply, request, CSRF_COOKIE, csrfToken, { httpOnly: false, maxAgeSeconds: SESSION_SECONDS });
      const user = await auth.accounts.getUser(principal.name).catch(() => ({ name: principal.name, admin: false, createdAt: new Date(0).toISOString() }));
      return { user, csrfToken, authMode: auth.config.mode };
    },
  );

  app.get(
    '/session',
    { config: { public: true }, schema: { summary: 'the logged-in user (401 when none; `none` mode: user null)', tags: ['session'], response: { 200: sessionReply } } },
    async (request) => {
      const caller = await callers.of(request);
      if (caller.principal.kind === 'anonymous') {
        if (auth.config.mode !== 'none') throw new RegistryError('UNAUTHORIZED', 'not logged in');
        // Images need no login here, but managing accounts does: the console offers to sign in.
        return { user: null, csrfToken: null, authMode: auth.config.mode };
      }
      const { principal } = caller;
      const user =
        principal.kind === 'user'
          ? await auth.accounts.getUser(principal.name).catch(() => ({ name: principal.name, admin: false, createdAt: new Date(0).toISOString() }))
          : { name: principal.name, admin: false, createdAt: new Date(0).toISOString() };
      return { user, csrfToken: caller.session?.csrfToken ?? null, authMode: auth.config.mode };
    },
  );

  app.delete('/session', { config: { public: true }, schema: { summary: 'log out (ends the session, clears the cookies)', tags: ['session'], response: noContent } }, async (request, reply) => {
    const caller = await callers.of(request);
    if (caller.session) {
      checkCsrf(request, caller);
      await auth.sessions.remove(caller.session.idHash);
    }
    setCookie(reply, request, SESSION_COOKIE, '', { httpOnly: true, maxAgeSeconds: 0 });
    setCookie(reply, request, CSRF_COOKIE, '', { httpOnly: false, maxAgeSeconds: 0 });
    return reply.code(204).send();
  });
}
