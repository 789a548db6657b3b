import type { CommandModule } from 'yargs';
import { storesFor, type GlobalArgs } from '../global.js';

interface LoadArgs extends GlobalArgs {
  input: string;
  quiet: boolean;
}

export const loadCommand: CommandModule<GlobalArgs, LoadArgs> = {
  command: 'load',
  describe: 'Load images from an OCI or Docker archive',
  builder: (y) =>
    y
      .option('input', { alias: 'i', type: 'string', demandOption: true, describe: 'archive file (oci-archive or docker-archive, detected by content)' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false })
      .example('$0 load -i hello.tar', 'load the images in hello.tar') as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { loadArchive } = await import('../../image/archive/index.js');
    const records = await loadArchive(stores, args.input);
    if (args.quiet) return;
    for (const record of records) {
      process.stdout.write(`Loaded image: ${record.names.length > 0 ? record.names.join(', ') : record.id}\n`);
    }
  },
};
