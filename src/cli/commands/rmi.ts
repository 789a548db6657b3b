import type { CommandModule } from 'yargs';
import { storesFor, type GlobalArgs } from '../global.js';

interface RmiArgs extends GlobalArgs {
  images: string[];
  force: boolean;
}

export const rmiCommand: CommandModule<GlobalArgs, RmiArgs> = {
  command: 'rmi <images..>',
  describe: 'Remove images from local storage',
  builder: (y) =>
    y
      .positional('images', { type: 'string', array: true, demandOption: true })
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'remove an image even if it has several names, and the containers made from it' })
      .example('$0 rmi hello', 'remove the name hello (and the image when it has no other name)')
      .example('$0 rmi -f 3f2a1b', 'remove an image by ID with all its names') as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { removeImage } = await import('../../image/remove.js');
    for (const ref of args.images) {
      const result = await removeImage(stores, ref, { force: args.force });
      for (const name of result.untagged) process.stdout.write(`Untagged: ${name}\n`);
      if (result.deleted) process.stdout.write(`Deleted: ${result.deleted.slice(7)}\n`);
    }
  },
};
