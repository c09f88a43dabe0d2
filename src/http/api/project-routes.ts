import type { FastifyInstance } from 'fastify';
import { repositoryActions, roles } from '../../auth/policy.js';
import { grantScopes } from '../auth/token-routes.js';
import { actorOf, need, needProject, needSystem } from './caller.js';
import { schemas, type ApiContext } from './context.js';
import { listOf, noContent, ref } from './schemas.js';

const project = schemas.nameParam('project');

/** Projects, their members and robots; and registry tokens for the caller. */
export function projectRoutes(app: FastifyInstance, { auth, callers }: ApiContext): void {
  app.get('/projects', { schema: { summary: 'projects the caller can see', tags: ['projects'], response: { 200: listOf('projects', 'Project') } } }, async (request) => {
    const { principal } = await callers.of(request);
    const all = auth.config.mode === 'none' || principal.admin;
    const projects = principal.kind === 'robot'
      ? (await auth.accounts.listProjects({ name: '', admin: false })).concat(await auth.accounts.getProject(principal.robot?.project ?? '').then((p) => [p], () => []))
      : await auth.accounts.listProjects({ name: principal.name, admin: all });
    const unique = [...new Map(projects.map((p) => [p.name, p])).values()].sort((a, b) => (a.name < b.name ? -1 : 1));
    return { projects: unique };
  });

  app.post<{ Body: { name: string; public?: boolean } }>(
    '/projects',
    {
      schema: {
        summary: 'create a project (system admins)',
        tags: ['projects'],
        body: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string' }, public: { type: 'boolean' } } },
        response: { 201: schemas.project },
      },
    },
    async (request, reply) => {
      const caller = await callers.of(request);
      needSystem(auth, caller, 'createProject');
      return reply.code(201).send(await auth.accounts.createProject(actorOf(request, caller), request.body));
    },
  );

  app.get<{ Params: { project: string } }>('/projects/:project', { schema: { summary: 'one project', tags: ['projects'], params: project, response: { 200: schemas.project } } }, async (request) => {
    await needProject(auth, await callers.of(request), request.params.project, 'pull');
    return auth.accounts.getProject(request.params.project);
  });

  app.patch<{ Params: { project: string }; Body: { public: boolean } }>(
    '/projects/:project',
    {
      schema: {
        summary: 'make a project public (anonymous pull) or private',
        tags: ['projects'],
        params: project,
        body: { type: 'object', required: ['public'], additionalProperties: false, properties: { public: { type: 'boolean' } } },
        response: { 200: schemas.project },
      },
    },
    async (request) => {
      const caller = await callers.of(request);
      await needProject(auth, caller, request.params.project, 'editProject');
      return auth.accounts.setProjectPublic(actorOf(request, caller), request.params.project, request.body.public);
    },
  );

  app.delete<{ Params: { project: string } }>(
    '/projects/:project',
    { schema: { summary: 'remove a project with its members and robots (system admins; repositories stay)', tags: ['projects'], params: project, response: noContent } },
    async (request, reply) => {
      const caller = await callers.of(request);
      needSystem(auth, caller, 'createProject');
      await auth.accounts.removeProject(actorOf(request, caller), request.params.project);
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { project: string } }>(
    '/projects/:project/members',
    { schema: { summary: 'members and their roles', tags: ['members'], params: project, response: { 200: listOf('members', 'Member') } } },
    async (request) => {
      await needProject(auth, await callers.of(request), request.params.project, 'readMembers');
      return { members: await auth.accounts.listMembers(request.params.project) };
    },
  );

  app.put<{ Params: { project: string; username: string }; Body: { role: string } }>(
    '/projects/:project/members/:username',
    {
      schema: {
        summary: 'add a member or change their role',
        tags: ['members'],
        params: schemas.nameParam('project', 'username'),
        body: { type: 'object', required: ['role'], additionalProperties: false, properties: { role: { type: 'string', enum: roles } } },
        response: { 200: schemas.member },
      },
    },
    async (request) => {
      const caller = await callers.of(request);
      await needProject(auth, caller, request.params.project, 'manageMembers');
      return auth.accounts.setMember(actorOf(request, caller), request.params.project, request.params.username, request.body.role);
    },
  );

  app.delete<{ Params: { project: string; username: string } }>(
    '/projects/:project/members/:username',
    { schema: { summary: 'remove a member', tags: ['members'], params: schemas.nameParam('project', 'username'), response: noContent } },
    async (request, reply) => {
      const caller = await callers.of(request);
      await needProject(auth, caller, request.params.project, 'manageMembers');
      await auth.accounts.removeMember(actorOf(request, caller), request.params.project, request.params.username);
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { project: string } }>(
    '/projects/:project/robots',
    { schema: { summary: 'robot accounts of a project', tags: ['robots'], params: project, response: { 200: listOf('robots', 'Robot') } } },
    async (request) => {
      await needProject(auth, await callers.of(request), request.params.project, 'manageRobots');
      return { robots: await auth.accounts.listRobots(request.params.project) };
    },
  );

  app.post<{ Params: { project: string }; Body: { name: string; actions: string[]; expiresInSeconds?: number; expiresAt?: string; description?: string } }>(
    '/projects/:project/robots',
    {
      schema: {
        summary: 'create a robot account; the secret is in this answer only',
        tags: ['robots'],
        params: project,
        body: {
          type: 'object',
          required: ['name', 'actions'],
          additionalProperties: false,
          properties: {
            name: { type: 'string' },
            actions: { type: 'array', minItems: 1, items: { type: 'string', enum: repositoryActions } },
            expiresInSeconds: { type: 'integer', minimum: 1 },
            expiresAt: { type: 'string', format: 'date-time' },
            description: { type: 'string', maxLength: 500 },
          },
        },
        response: { 201: { type: 'object', required: ['robot', 'secret'], properties: { robot: ref('Robot'), secret: { type: 'string' } } } },
      },
    },
    async (request, reply) => {
      const caller = await callers.of(request);
      await needProject(auth, caller, request.params.project, 'manageRobots');
      const { name, actions, expiresInSeconds, expiresAt, description } = request.body;
      const expiry = expiresInSeconds !== undefined ? auth.now() + expiresInSeconds * 1000 : expiresAt !== undefined ? Date.parse(expiresAt) : null;
      const created = await auth.accounts.createRobot(actorOf(request, caller), request.params.project, { name, actions, expiresAt: expiry, description: description ?? null });
      return reply.code(201).send(created);
    },
  );

  app.delete<{ Params: { project: string; robot: string } }>(
    '/projects/:project/robots/:robot',
    { schema: { summary: 'revoke a robot account', tags: ['robots'], params: schemas.nameParam('project', 'robot'), response: noContent } },
    async (request, reply) => {
      const caller = await callers.of(request);
      await needProject(auth, caller, request.params.project, 'manageRobots');
      await auth.accounts.revokeRobot(actorOf(request, caller), request.params.project, request.params.robot);
      return reply.code(204).send();
    },
  );

  app.post<{ Body: { scopes?: string[] } }>(
    '/tokens',
    {
      schema: {
        summary: 'a registry bearer token for the caller (the same as GET /token), granting what the caller may do of the scopes asked',
        tags: ['tokens'],
        body: { type: 'object', additionalProperties: false, properties: { scopes: { type: 'array', maxItems: 100, items: { type: 'string', maxLength: 600 } } } },
        response: {
          200: {
            type: 'object',
            required: ['token', 'expires_in', 'issued_at', 'access'],
            properties: {
              token: { type: 'string' },
              expires_in: { type: 'integer' },
              issued_at: { type: 'string' },
              access: { type: 'array', items: { type: 'object', properties: { type: { type: 'string' }, name: { type: 'string' }, actions: { type: 'array', items: { type: 'string' } } } } },
            },
          },
        },
      },
    },
    async (request) => {
      const caller = await callers.of(request);
      need(caller, caller.principal.kind !== 'anonymous');
      const access = await grantScopes(auth, caller.principal, request.body?.scopes ?? []);
      const issued = await auth.tokens.issue(caller.principal.name, access);
      return { token: issued.token, expires_in: issued.expiresIn, issued_at: issued.issuedAt, access };
    },
  );
}
