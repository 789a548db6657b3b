import type { CommandModule } from 'yargs';
import { TsbuildError } from '../../errors.js';
import { storesFor, type GlobalArgs } from '../global.js';

interface RmArgs extends GlobalArgs {
  containers: string[];
}

export const rmCommand: CommandModule<GlobalArgs, RmArgs> = {
  command: 'rm <containers..>',
  describe: 'Remove stopped containers',
  builder: (y) =>
    y
      .positional('containers', { type: 'string', array: true, demandOption: true, describe: 'container names or IDs' })
      .example('$0 rm web', 'remove the exited container named web') as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { findContainer, removeContainerDir } = await import('../../container/records.js');
    for (const ref of args.containers) {
      const container = await findContainer(stores, ref);
      if (!container) throw new TsbuildError('NOT_FOUND', `container "${ref}" not found`);
      if (container.state === 'running') throw new TsbuildError('INVALID_ARGUMENT', `container "${ref}" is running`);
      await removeContainerDir(stores, container.id);
      process.stdout.write(`${container.id}\n`);
    }
  },
};
