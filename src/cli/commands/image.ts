// `tsbuild image <command>`: podman's image group. `image prune` removes unused images (podman's
// words: dangling ones by default, every one no container uses with --all) and then whatever blobs
// and snapshots nothing references any more; `image ls` and `image rm` are `images` and `rmi`.
import type { CommandModule } from 'yargs';
import { storesFor, type GlobalArgs } from '../global.js';
import { commandGroup } from '../command-group.js';
import { parseImageFilters } from '../gc-flags.js';
import { imagesCommand } from './images.js';
import { rmiCommand } from './rmi.js';

interface PruneArgs extends GlobalArgs {
  all: boolean;
  force: boolean;
  filter: string[];
}

export const imagePruneCommand: CommandModule<GlobalArgs, PruneArgs> = {
  command: 'prune',
  describe: 'Remove unused images: untagged ones no container uses (--all: every image no container uses); prints their IDs',
  builder: (y) =>
    y
      .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'remove every image no container uses, not only untagged ones' })
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'do not ask for confirmation (tsbuild never asks; accepted for podman scripts)' })
      .option('filter', { type: 'string', array: true, default: [] as string[], describe: 'only images matching: until=<timestamp|duration>, label=<key>[=<value>], label!=<key>[=<value>]' })
      .example('$0 image prune', 'remove untagged images no container uses')
      .example('$0 image prune -a --filter until=24h', 'remove every unused image made more than a day ago')
      .example('$0 image prune -a --filter label!=keep', 'remove unused images without the label "keep"') as never,
  handler: async (args) => {
    const filters = parseImageFilters(args.filter);
    const stores = await storesFor(args);
    const { collectGarbage } = await import('../../store/gc.js');
    // Layers that build cache entries still use stay (builder prune removes them), as after rmi.
    const result = await collectGarbage(stores, { images: { all: args.all, filters }, cache: 'keep' });
    process.stdout.write(result.images.map((id) => `${id.slice(7)}\n`).join(''));
  },
};

const imageSubcommands: CommandModule<GlobalArgs, never>[] = [
  imagePruneCommand as never,
  { ...imagesCommand, command: 'ls', aliases: ['list'] } as never,
  { ...rmiCommand, command: 'rm <images..>' } as never,
];

export const imageCommand = commandGroup({
  name: 'image',
  describe: 'Manage images (prune, ls, rm)',
  subcommands: imageSubcommands as never[],
  examples: [
    ['$0 image prune -a', 'remove every image no container uses'],
    ['$0 image ls', 'the same as tsbuild images'],
  ],
});
