import type { FastifyInstance } from 'fastify';
import { RegistryError } from '../../errors.js';
import { actorOf, need, needSystem } from './caller.js';
import { schemas, type ApiContext } from './context.js';
import { listOf, noContent } from './schemas.js';

const tags = ['users'];
const password = { type: 'string', minLength: 1, maxLength: 1024 } as const;

/** Users (system admins), and each user's own password. */
export function userRoutes(app: FastifyInstance, { auth, callers }: ApiContext): void {
  app.get('/users', { schema: { summary: 'list users', tags, response: { 200: listOf('users', 'User') } } }, async (request) => {
    needSystem(auth, await callers.of(request), 'manageUsers');
    return { users: await auth.accounts.listUsers() };
  });

  app.post<{ Body: { name: string; password: string; admin?: boolean } }>(
    '/users',
    {
      schema: {
        summary: 'create a user',
        tags,
        body: { type: 'object', required: ['name', 'password'], additionalProperties: false, properties: { name: { type: 'string' }, password, admin: { type: 'boolean' } } },
        response: { 201: schemas.user },
      },
    },
    async (request, reply) => {
      const caller = await callers.of(request);
      needSystem(auth, caller, 'manageUsers');
      return reply.code(201).send(await auth.accounts.createUser(actorOf(request, caller), request.body));
    },
  );

  app.get<{ Params: { name: string } }>(
    '/users/:name',
    { schema: { summary: 'one user (yourself, or anyone for admins)', tags, params: schemas.nameParam('name'), response: { 200: schemas.user } } },
    async (request) => {
      const caller = await callers.of(request);
      need(caller, caller.principal.name === request.params.name || auth.permissions.system(caller.principal).has('manageUsers'));
      return auth.accounts.getUser(request.params.name);
    },
  );

  app.patch<{ Params: { name: string }; Body: { admin: boolean } }>(
    '/users/:name',
    {
      schema: {
        summary: 'make a user a system admin or not',
        tags,
        params: schemas.nameParam('name'),
        body: { type: 'object', required: ['admin'], additionalProperties: false, properties: { admin: { type: 'boolean' } } },
        response: { 200: schemas.user },
      },
    },
    async (request) => {
      const caller = await callers.of(request);
      needSystem(auth, caller, 'manageUsers');
      return auth.accounts.setAdmin(actorOf(request, caller), request.params.name, request.body.admin);
    },
  );

  app.delete<{ Params: { name: string } }>(
    '/users/:name',
    { schema: { summary: 'remove a user', tags, params: schemas.nameParam('name'), response: noContent } },
    async (request, reply) => {
      const caller = await callers.of(request);
      needSystem(auth, caller, 'manageUsers');
      await auth.accounts.removeUser(actorOf(request, caller), request.params.name);
      return reply.code(204).send();
    },
  );

  app.put<{ Params: { name: string }; Body: { password: string; currentPassword?: string } }>(
    '/users/:name/password',
    {
      schema: {
        summary: 'change a password (your own needs currentPassword; admins may set anyone\'s)',
        tags,
        params: schemas.nameParam('name'),
        body: { type: 'object', required: ['password'], additionalProperties: false, properties: { password, currentPassword: password } },
        response: noContent,
      },
    },
    async (request, reply) => {
      const caller = await callers.of(request);
      const { name } = request.params;
      const isAdmin = auth.permissions.system(caller.principal).has('manageUsers');
      need(caller, isAdmin || (caller.principal.kind === 'user' && caller.principal.name === name));
      if (!isAdmin) {
        const user = await auth.authenticator.lookup(name);
        const stored = user ? (await auth.accounts.getUser(name).then(() => true, () => false)) : false;
        if (!stored) throw new RegistryError('CONFLICT', 'this user comes from the htpasswd file; change it there');
        const ok = await auth.authenticator.login(name, request.body.currentPassword ?? '', request.ip, 'password-change');
        if (!ok) throw new RegistryError('DENIED', 'the current password is wrong');
      }
      await auth.accounts.setPassword(actorOf(request, caller), name, request.body.password);
      return reply.code(204).send();
    },
  );
}
