import type { CommandModule } from 'yargs';
import { eachContainer } from '../container-each.js';
import { storesFor, wantsStack, type GlobalArgs } from '../global.js';
import { withAbortOnSignals } from '../signals.js';

interface WaitArgs extends GlobalArgs {
  containers: string[];
}

export const waitCommand: CommandModule<GlobalArgs, WaitArgs> = {
  command: 'wait <containers..>',
  describe: 'Wait for containers to stop and print their exit codes',
  builder: (y) =>
    y
      .positional('containers', { type: 'string', array: true, demandOption: true, describe: 'container names or IDs' })
      .example('$0 wait job', 'block until the container named job exits; prints its exit code') as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { waitContainer } = await import('../../container/wait.js');
    await withAbortOnSignals((signal) =>
      eachContainer(stores, args.containers, async (record) => String(await waitContainer(stores, record, signal)), wantsStack(process.argv)),
    );
  },
};
