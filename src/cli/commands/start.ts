import type { CommandModule } from 'yargs';
import { TsbuildError } from '../../errors.js';
import { eachContainer } from '../container-each.js';
import { storesFor, wantsStack, type GlobalArgs } from '../global.js';

interface StartArgs extends GlobalArgs {
  containers: string[];
  attach: boolean;
}

export const startCommand: CommandModule<GlobalArgs, StartArgs> = {
  command: 'start <containers..>',
  describe: 'Start created or stopped containers (in the background)',
  builder: (y) =>
    y
      .positional('containers', { type: 'string', array: true, demandOption: true, describe: 'container names or IDs' })
      .option('attach', { alias: 'a', type: 'boolean', default: false, describe: 'follow the output until the container exits, and exit with its code' })
      .example('$0 start web', 'start the container named web')
      .example('$0 start -a job', 'start it and show its output until it ends') as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { startContainer } = await import('../../container/start.js');
    if (args.attach) {
      if (args.containers.length !== 1) throw new TsbuildError('INVALID_ARGUMENT', 'start -a takes one container', { exitCode: 125 });
      const { requireContainer } = await import('../../container/records.js');
      const { followUntilExit, logSize } = await import('../../container/follow.js');
      const record = await requireContainer(stores, args.containers[0]!);
      const offset = record.state === 'running' ? 0 : await logSize(stores, record.id);
      const started = await startContainer(stores, record.id);
      process.exitCode = await followUntilExit(stores, started.record, offset);
      return;
    }
    await eachContainer(stores, args.containers, async (record, ref) => {
      await startContainer(stores, record.id);
      return ref;
    }, wantsStack(process.argv));
  },
};
