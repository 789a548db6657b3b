import type { CommandModule } from 'yargs';
import { eachContainer } from '../container-each.js';
import { storesFor, wantsStack, type GlobalArgs } from '../global.js';

interface StopArgs extends GlobalArgs {
  containers: string[];
  time?: number;
}

export const stopCommand: CommandModule<GlobalArgs, StopArgs> = {
  command: 'stop <containers..>',
  describe: 'Stop running containers: the stop signal, then SIGKILL after the timeout',
  builder: (y) =>
    y
      .positional('containers', { type: 'string', array: true, demandOption: true, describe: 'container names or IDs' })
      .option('time', { alias: 't', type: 'number', describe: 'seconds to wait before SIGKILL (default: the container\'s --stop-timeout, 10)' })
      .example('$0 stop web', 'stop the container named web')
      .example('$0 stop -t 1 web db', 'stop two containers, killing them after a second') as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { stopContainer } = await import('../../container/stop.js');
    await eachContainer(stores, args.containers, async (record, ref) => {
      await stopContainer(stores, record, args.time);
      return ref;
    }, wantsStack(process.argv));
  },
};
