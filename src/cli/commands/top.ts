// `tsbuild top`: the processes of a running container (podman top).
import type { CommandModule } from 'yargs';
import { storesFor, type GlobalArgs } from '../global.js';

interface TopArgs extends GlobalArgs {
  container: string;
  descriptors: string[];
}

export const topCommand: CommandModule<GlobalArgs, TopArgs> = {
  command: 'top <container> [descriptors..]',
  describe: 'Show the processes of a running container',
  builder: (y) =>
    y
      .positional('container', { type: 'string', demandOption: true, describe: 'container name or ID' })
      .positional('descriptors', {
        type: 'string',
        array: true,
        default: [],
        describe: 'columns: user pid ppid pcpu etime tty time args (default), comm group nice pgid rgroup ruser vsz rss state hpid hppid huser, or AIX codes (%p %U %a ...)',
      })
      .example('$0 top web', 'USER PID PPID %CPU ELAPSED TTY TIME COMMAND of each process in web')
      .example('$0 top web pid,hpid,args', 'container and host pids with the command lines') as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { topContainer, formatTable } = await import('../../container/top.js');
    process.stdout.write(formatTable(await topContainer(stores, args.container, args.descriptors.map(String))));
  },
};
