import type { CommandModule } from 'yargs';
import { TsbuildError } from '../../errors.js';
import { eachContainer } from '../container-each.js';
import { storesFor, wantsStack, type GlobalArgs } from '../global.js';

interface RmArgs extends GlobalArgs {
  containers: string[];
  force: boolean;
  volumes: boolean;
  all: boolean;
}

export const rmCommand: CommandModule<GlobalArgs, RmArgs> = {
  command: 'rm [containers..]',
  describe: 'Remove containers (running ones with -f); working containers too',
  builder: (y) =>
    y
      .positional('containers', { type: 'string', array: true, default: [], describe: 'container names or IDs' })
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'kill and remove running containers' })
      .option('volumes', { alias: 'v', type: 'boolean', default: false, describe: 'also remove their anonymous volumes' })
      .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'remove every container' })
      .example('$0 rm web', 'remove the exited container named web')
      .example('$0 rm -f -v web', 'kill and remove it, with its anonymous volumes') as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { removeContainerRecord } = await import('../../container/remove.js');
    let refs = args.containers;
    if (args.all) {
      const { listContainers } = await import('../../container/records.js');
      refs = (await listContainers(stores)).map((c) => c.id);
    } else if (refs.length === 0) {
      throw new TsbuildError('INVALID_ARGUMENT', 'rm needs at least one container (or --all)', { exitCode: 125 });
    }
    await eachContainer(stores, refs, async (record) => {
      if (record.kind === 'working') {
        // buildah's containers: refused while a `wc run` uses one, unless -f.
        const { removeWorkingContainer } = await import('../../working/remove.js');
        await removeWorkingContainer(stores, record, { force: args.force });
      } else {
        await removeContainerRecord(stores, record, { force: args.force, volumes: args.volumes });
      }
      return record.id;
    }, wantsStack(process.argv));
  },
};
