import type { Command } from 'commander';
import { runWithDatabase, withDatabaseFlags, type DatabaseFlags } from './open-for-cli.js';
import { registerPolicyCommands } from './lifecycle-commands.js';

const cliActor = { name: 'cli', source: 'local' };

/** `wharf project create|list|member …|policy …`. */
export function registerProjectCommands(program: Command): void {
  const project = program.command('project').description('manage projects (the first path segment of repository names) and their members');

  withDatabaseFlags(project.command('create').description('create a project (private unless --public)'))
    .argument('<name>')
    .option('--public', 'anyone may pull from it, without logging in')
    .action(async (name: string, flags: DatabaseFlags & { public?: boolean }) => {
      await runWithDatabase(flags, async ({ auth }) => {
        await auth.accounts.createProject(cliActor, { name, public: flags.public === true });
        process.stdout.write(`project ${name} created (${flags.public ? 'public' : 'private'})\n`);
      });
    });

  withDatabaseFlags(project.command('list').description('list projects'))
    .option('--json', 'print JSON')
    .action(async (flags: DatabaseFlags & { json?: boolean }) => {
      await runWithDatabase(flags, async ({ auth }) => {
        const projects = await auth.accounts.listProjects();
        if (flags.json) process.stdout.write(`${JSON.stringify(projects, null, 2)}\n`);
        else for (const p of projects) process.stdout.write(`${p.name}\t${p.public ? 'public' : 'private'}\t${p.createdAt}\n`);
      });
    });

  const member = project.command('member').description('project members and roles (admin, maintainer, developer, tester, guest)');
  withDatabaseFlags(member.command('add').description('add a member or change their role'))
    .argument('<project>')
    .argument('<user>')
    .argument('<role>')
    .action(async (name: string, user: string, role: string, flags: DatabaseFlags) => {
      await runWithDatabase(flags, async ({ auth }) => {
        await auth.accounts.setMember(cliActor, name, user, role);
        process.stdout.write(`${user} is ${role} of ${name}\n`);
      });
    });
  withDatabaseFlags(member.command('remove').description('remove a member'))
    .argument('<project>')
    .argument('<user>')
    .action(async (name: string, user: string, flags: DatabaseFlags) => {
      await runWithDatabase(flags, async ({ auth }) => {
        await auth.accounts.removeMember(cliActor, name, user);
        process.stdout.write(`${user} removed from ${name}\n`);
      });
    });
  withDatabaseFlags(member.command('list').description('list the members of a project'))
    .argument('<project>')
    .action(async (name: string, flags: DatabaseFlags) => {
      await runWithDatabase(flags, async ({ auth }) => {
        for (const m of await auth.accounts.listMembers(name)) process.stdout.write(`${m.username}\t${m.role}\n`);
      });
    });

  registerPolicyCommands(project);
}
