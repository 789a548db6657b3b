import type { CommandModule } from 'yargs';
import { storesFor, type GlobalArgs } from '../global.js';

interface TagArgs extends GlobalArgs {
  image: string;
  names: string[];
}

export const tagCommand: CommandModule<GlobalArgs, TagArgs> = {
  command: 'tag <image> <names..>',
  describe: 'Add names to a local image',
  builder: (y) =>
    y
      .positional('image', { type: 'string', demandOption: true })
      .positional('names', { type: 'string', array: true, demandOption: true })
      .example('$0 tag hello hello:1.0 registry.example:5000/team/hello:1.0', 'give hello two more names') as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const image = await stores.images.get(args.image);
    await stores.images.tag(image.id, args.names);
  },
};
