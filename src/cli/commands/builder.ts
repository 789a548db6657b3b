// `tsbuild builder prune` (docker's command and flags; buildah prune's job): the build cache that
// takes space goes: step cache entries whose layer no image has, RUN --mount=type=cache directories,
// and the layers (blobs and snapshots) that no image, container or running command needs. Entries
// whose layer an image keeps anyway cost nothing and stay (so rebuilding that image is still
// cached) unless --all. --keep-storage keeps the most recently used part.
import type { CommandModule } from 'yargs';
import { storesFor, type GlobalArgs } from '../global.js';
import { commandGroup } from '../command-group.js';
import { parseStorageSize, reclaimedLine } from '../gc-flags.js';

interface PruneArgs extends GlobalArgs {
  all: boolean;
  force: boolean;
  'keep-storage'?: string;
}

export const builderPruneCommand: CommandModule<GlobalArgs, PruneArgs> = {
  command: 'prune',
  describe: 'Remove the build cache that takes space (step cache, RUN cache mounts, layers no image uses); --all: all of it',
  builder: (y) =>
    y
      .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'remove every cache entry, also those whose layer an image keeps (the next build of that image runs every step)' })
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'do not ask for confirmation (tsbuild never asks; accepted for scripts)' })
      .option('keep-storage', { type: 'string', describe: 'keep the most recently used build cache up to this size (e.g. 512m, 10GB), remove the rest, oldest first' })
      .example('$0 builder prune', 'reclaim the space the build cache takes')
      .example('$0 builder prune --keep-storage 1GB', 'keep the most recently used 1 GiB of build cache')
      .example('$0 builder prune -a', 'remove the whole build cache') as never,
  handler: async (args) => {
    const keepBytes = args['keep-storage'] === undefined ? undefined : parseStorageSize(args['keep-storage']);
    const stores = await storesFor(args);
    const { collectGarbage } = await import('../../store/gc.js');
    const result = await collectGarbage(stores, { cache: keepBytes !== undefined ? { keepBytes } : args.all ? 'all' : 'unused' });
    if (result.cacheMountsInUse > 0) {
      process.stderr.write(`[Warning] ${result.cacheMountsInUse} RUN cache mount(s) kept: another tsbuild process is running and may be using them\n`);
    }
    process.stdout.write(
      `Deleted ${result.cacheEntries} cache entries, ${result.cacheMounts} cache mounts, ${result.blobs} blobs, ${result.snapshots} snapshots\n`,
    );
    process.stdout.write(reclaimedLine(result.reclaimed));
  },
};

export const builderCommand = commandGroup({
  name: 'builder',
  describe: 'Manage the build cache (prune)',
  subcommands: [builderPruneCommand] as never[],
  examples: [['$0 builder prune --keep-storage 5GB', 'trim the build cache to 5 GiB']],
});
