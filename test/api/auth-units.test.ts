/** The pure parts of auth: scope parsing, htpasswd parsing, the policy, secret comparison. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseHtpasswd } from '../../src/auth/htpasswd.js';
import { projectPermissions, systemPermissions } from '../../src/auth/policy.js';
import { parseScopes } from '../../src/auth/scopes.js';
import { constantTimeEqual } from '../../src/auth/secrets.js';

test('parseScopes: repository and catalog scopes, space-separated, unknown parts dropped', () => {
  assert.deepEqual(parseScopes(['repository:team/app:pull,push', 'repository:a/b:delete registry:catalog:*']), [
    { type: 'repository', name: 'team/app', actions: ['pull', 'push'] },
    { type: 'repository', name: 'a/b', actions: ['delete'] },
    { type: 'registry', name: 'catalog', actions: ['*'] },
  ]);
  assert.deepEqual(parseScopes(['repository(plugin):x:pull']), [{ type: 'repository', name: 'x', actions: ['pull'] }]);
  assert.deepEqual(parseScopes(['repository:x:*']), [{ type: 'repository', name: 'x', actions: ['pull', 'push', 'delete'] }]);
  assert.deepEqual(parseScopes(['repository:x:admin,pull']), [{ type: 'repository', name: 'x', actions: ['pull'] }]);
  assert.deepEqual(parseScopes(['bogus', 'registry:catalog:pull', 'other:x:pull', '']), []);
});

test('parseHtpasswd keeps bcrypt entries only', () => {
  const users = parseHtpasswd('# c\n\nhal:$2y$05$abcdefghijklmnopqrstuu1234567890123456789012345678901\nsha:{SHA}abc=\nbad\n');
  assert.deepEqual([...users.keys()], ['hal']);
});

test('policy: open mode, admins, missing projects, robots of other projects, anonymous pull', () => {
  const open = { open: true, anonymousPull: false };
  const closed = { open: false, anonymousPull: false };
  const team = { name: 'team', exists: true, public: false };
  assert.ok(projectPermissions({ kind: 'anonymous' }, team, open).has('delete'));
  // An open registry opens images and reading, never what grants access.
  assert.deepEqual([...projectPermissions({ kind: 'anonymous' }, team, open)].sort(), ['delete', 'promote', 'pull', 'push', 'readAudit', 'readMembers']);
  assert.deepEqual([...systemPermissions({ kind: 'anonymous' }, open)].sort(), ['catalog', 'readAllAudit']);
  assert.deepEqual([...systemPermissions({ kind: 'user', admin: false }, open)].sort(), ['catalog', 'readAllAudit']);
  assert.ok(projectPermissions({ kind: 'user', admin: false, role: 'admin' }, team, open).has('manageMembers'));
  assert.ok(systemPermissions({ kind: 'user', admin: true }, open).has('manageUsers'));
  assert.ok(projectPermissions({ kind: 'user', admin: true }, { name: 'new', exists: false, public: false }, closed).has('push'));
  assert.equal(projectPermissions({ kind: 'user', admin: false, role: 'admin' }, { name: 'new', exists: false, public: false }, closed).size, 0);
  assert.equal(projectPermissions({ kind: 'robot', project: 'other', actions: ['pull', 'push'] }, team, closed).size, 0);
  assert.deepEqual([...projectPermissions({ kind: 'anonymous' }, team, { open: false, anonymousPull: true })], ['pull']);
  assert.ok(systemPermissions({ kind: 'anonymous' }, { open: false, anonymousPull: true }).has('catalog'));
  assert.equal(systemPermissions({ kind: 'anonymous' }, closed).size, 0);
});

test('constantTimeEqual', () => {
  assert.ok(constantTimeEqual('abc', 'abc'));
  assert.ok(!constantTimeEqual('abc', 'abd'));
  assert.ok(!constantTimeEqual('abc', 'abcd'));
  assert.ok(!constantTimeEqual('', 'a'));
});
