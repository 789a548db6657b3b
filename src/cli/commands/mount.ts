import type { CommandModule } from 'yargs';
import { storesFor, type GlobalArgs } from '../global.js';
import { WC_EPILOGUE } from './wc-shared.js';

interface MountArgs extends GlobalArgs {
  containers: string[];
  notruncate: boolean;
}

export const mountCommand: CommandModule<GlobalArgs, MountArgs> = {
  command: 'mount [containers..]',
  describe: 'Mount containers\' root filesystems and print where (no arguments: list mounted containers)',
  builder: (y) =>
    y
      .positional('containers', { type: 'string', array: true, default: [], describe: 'container names or IDs (working or run containers)' })
      .option('notruncate', { type: 'boolean', default: false, describe: 'accepted for buildah compatibility' })
      .example('mnt=$($0 mount app-working-container) && ls $mnt', 'the container\'s files, writable; umount when done')
      .example('$0 mount', 'list mounted containers: NAME PATH')
      .epilogue(WC_EPILOGUE) as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { mountForUser, listMounted } = await import('../../working/mount.js');
    const refs = args.containers.map(String);
    if (refs.length === 0) {
      process.stdout.write((await listMounted(stores)).map((m) => `${m.record.name} ${m.path}\n`).join(''));
      return;
    }
    for (const ref of refs) {
      const { record, path } = await mountForUser(stores, ref);
      // buildah: one container prints the path alone, several print "name path".
      process.stdout.write(refs.length === 1 ? `${path}\n` : `${record.name} ${path}\n`);
    }
  },
};
