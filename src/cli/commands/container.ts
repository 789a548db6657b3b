// `tsbuild container <command>`: podman's group, the same commands as the top-level ones (ls/list
// are ps), plus the hidden `container cleanup ID` that a container's monitor execs once the
// container is done for good.
import type { CommandModule } from 'yargs';
import { storesFor, type GlobalArgs } from '../global.js';
import { commandGroup } from '../command-group.js';
import { containerPruneCommand } from './container-prune.js';
import { cpCommand } from './cp.js';
import { createCommand } from './create.js';
import { execCommand } from './exec.js';
import { inspectCommand } from './inspect.js';
import { killCommand } from './kill.js';
import { portCommand } from './port.js';
import { psCommand } from './ps.js';
import { restartCommand } from './restart.js';
import { rmCommand } from './rm.js';
import { runCommand } from './run.js';
import { startCommand } from './start.js';
import { stopCommand } from './stop.js';
import { topCommand } from './top.js';
import { waitCommand } from './wait.js';

interface CleanupArgs extends GlobalArgs {
  id: string;
}

const cleanupCommand: CommandModule<GlobalArgs, CleanupArgs> = {
  command: 'cleanup <id>',
  describe: false,
  builder: (y) => y.positional('id', { type: 'string', demandOption: true }) as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { cleanupContainer } = await import('../../container/cleanup.js');
    await cleanupContainer(stores, args.id);
  },
};

const containerSubcommands: CommandModule<GlobalArgs, never>[] = [
  { ...psCommand, command: 'ls', aliases: ['ps', 'list'] } as never,
  createCommand as never,
  runCommand as never,
  startCommand as never,
  stopCommand as never,
  killCommand as never,
  restartCommand as never,
  rmCommand as never,
  waitCommand as never,
  inspectCommand as never,
  portCommand as never,
  execCommand as never,
  cpCommand as never,
  topCommand as never,
  containerPruneCommand as never,
  cleanupCommand as never,
];

export const containerCommand = commandGroup({
  name: 'container',
  describe: 'Manage containers (the same commands as run, ps, stop, rm, ...)',
  subcommands: containerSubcommands as never[],
  examples: [
    ['$0 container ls -a', 'every container'],
    ['$0 container rm -f web', 'kill and remove web'],
  ],
});
