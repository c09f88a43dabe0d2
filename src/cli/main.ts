import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerConfigCommands } from './config-commands.js';
import { registerGcCommand } from './gc-commands.js';
import { registerServeCommand } from './serve.js';
import { registerProjectCommands } from './project-commands.js';
import { registerReplicateCommands } from './replicate-commands.js';
import { registerLineageCommand } from './lineage-command.js';
import { registerPromoteCommand } from './promote-command.js';
import { registerUserCommands } from './user-commands.js';

const packageJson = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

export async function main(argv: string[]): Promise<void> {
  const program = new Command()
    .name('wharf')
    .description('Wharf: a private container registry and registry mirror')
    .version(packageJson.version, '-v, --version')
    .showHelpAfterError();
  registerServeCommand(program);
  registerConfigCommands(program);
  registerUserCommands(program);
  registerProjectCommands(program);
  registerReplicateCommands(program);
  registerGcCommand(program);
  registerPromoteCommand(program);
  registerLineageCommand(program);
  await program.parseAsync(argv);
}
