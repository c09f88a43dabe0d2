import type { Command } from 'commander';
import { readPassword, runWithDatabase, withDatabaseFlags, type DatabaseFlags } from './open-for-cli.js';

const cliActor = { name: 'cli', source: 'local' };

/** `wharf user add|passwd|make-admin|list|remove`: accounts for ops without the console. */
export function registerUserCommands(program: Command): void {
  const user = program.command('user').description('manage local users (in the metadata database)');

  withDatabaseFlags(user.command('add').description('create a user; the password comes from a prompt or standard input'))
    .argument('<name>')
    .option('--admin', 'make the user a system administrator')
    .action(async (name: string, flags: DatabaseFlags & { admin?: boolean }) => {
      await runWithDatabase(flags, async ({ auth }) => {
        const password = await readPassword(`password for ${name}: `);
        await auth.accounts.createUser(cliActor, { name, password, admin: flags.admin === true });
        process.stdout.write(`user ${name} created${flags.admin ? ' (system admin)' : ''}\n`);
      });
    });

  withDatabaseFlags(user.command('passwd').description('set a user\'s password (from a prompt or standard input)'))
    .argument('<name>')
    .action(async (name: string, flags: DatabaseFlags) => {
      await runWithDatabase(flags, async ({ auth }) => {
        await auth.accounts.getUser(name);
        await auth.accounts.setPassword(cliActor, name, await readPassword(`new password for ${name}: `));
        process.stdout.write(`password of ${name} changed\n`);
      });
    });

  withDatabaseFlags(user.command('make-admin').description('make an existing user a system administrator'))
    .argument('<name>')
    .action(async (name: string, flags: DatabaseFlags) => {
      await runWithDatabase(flags, async ({ auth }) => {
        await auth.accounts.setAdmin(cliActor, name, true);
        process.stdout.write(`${name} is a system admin\n`);
      });
    });

  withDatabaseFlags(user.command('list').description('list users'))
    .option('--json', 'print JSON')
    .action(async (flags: DatabaseFlags & { json?: boolean }) => {
      await runWithDatabase(flags, async ({ auth }) => {
        const users = await auth.accounts.listUsers();
        if (flags.json) process.stdout.write(`${JSON.stringify(users, null, 2)}\n`);
        else for (const u of users) process.stdout.write(`${u.name}\t${u.admin ? 'admin' : 'user'}\t${u.createdAt}\n`);
      });
    });

  withDatabaseFlags(user.command('remove').description('remove a user (and their memberships and sessions)'))
    .argument('<name>')
    .action(async (name: string, flags: DatabaseFlags) => {
      await runWithDatabase(flags, async ({ auth }) => {
        await auth.accounts.removeUser(cliActor, name);
        process.stdout.write(`user ${name} removed\n`);
      });
    });
}
