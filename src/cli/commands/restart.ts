import type { CommandModule } from 'yargs';
import { eachContainer } from '../container-each.js';
import { storesFor, wantsStack, type GlobalArgs } from '../global.js';

interface RestartArgs extends GlobalArgs {
  containers: string[];
  time?: number;
}

export const restartCommand: CommandModule<GlobalArgs, RestartArgs> = {
  command: 'restart <containers..>',
  describe: 'Stop (if running) and start containers again',
  builder: (y) =>
    y
      .positional('containers', { type: 'string', array: true, demandOption: true, describe: 'container names or IDs' })
      .option('time', { alias: 't', type: 'number', describe: 'seconds to wait before SIGKILL when stopping' })
      .example('$0 restart web', 'restart the container named web') as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { restartContainer } = await import('../../container/stop.js');
    await eachContainer(stores, args.containers, async (record) => {
      await restartContainer(stores, record, args.time);
      return record.id;
    }, wantsStack(process.argv));
  },
};
