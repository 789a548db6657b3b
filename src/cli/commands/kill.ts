import type { CommandModule } from 'yargs';
import { eachContainer } from '../container-each.js';
import { storesFor, wantsStack, type GlobalArgs } from '../global.js';

interface KillArgs extends GlobalArgs {
  containers: string[];
  signal: string;
}

export const killCommand: CommandModule<GlobalArgs, KillArgs> = {
  command: 'kill <containers..>',
  describe: 'Send a signal (default SIGKILL) to running containers',
  builder: (y) =>
    y
      .positional('containers', { type: 'string', array: true, demandOption: true, describe: 'container names or IDs' })
      .option('signal', { alias: 's', type: 'string', default: 'KILL', describe: 'signal name or number' })
      .example('$0 kill web', 'kill the container named web')
      .example('$0 kill -s HUP web', 'send it SIGHUP') as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { killContainer } = await import('../../container/stop.js');
    await eachContainer(stores, args.containers, async (record, ref) => {
      await killContainer(stores, record, args.signal);
      return ref;
    }, wantsStack(process.argv));
  },
};
