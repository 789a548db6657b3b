import type { CommandModule } from 'yargs';
import { TsbuildError } from '../../errors.js';
import { storesFor, type GlobalArgs } from '../global.js';
import { WC_EPILOGUE } from './wc-shared.js';

interface UmountArgs extends GlobalArgs {
  containers: string[];
  all: boolean;
}

export const umountCommand: CommandModule<GlobalArgs, UmountArgs> = {
  command: 'umount [containers..]',
  aliases: ['unmount'],
  describe: 'Unmount containers\' root filesystems (a running container keeps its own)',
  builder: (y) =>
    y
      .positional('containers', { type: 'string', array: true, default: [], describe: 'container names or IDs' })
      .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'unmount every mounted container' })
      .example('$0 umount app-working-container', 'unmount it')
      .example('$0 umount -a', 'unmount all')
      .epilogue(WC_EPILOGUE) as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { unmountForUser, listMounted } = await import('../../working/mount.js');
    const refs = args.all ? (await listMounted(stores)).map((m) => m.record.id) : args.containers.map(String);
    if (!args.all && refs.length === 0) throw new TsbuildError('INVALID_ARGUMENT', 'umount: name a container, or use --all');
    for (const ref of refs) {
      const record = await unmountForUser(stores, ref);
      process.stdout.write(`${args.all ? record.name : ref}\n`);
    }
  },
};
