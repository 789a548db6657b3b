import type { CommandModule } from 'yargs';
import { storesFor, type GlobalArgs } from '../global.js';
import { registryFlags, registryOptions, type RegistryArgs } from '../registry-flags.js';
import { withAbortOnSignals } from '../signals.js';
import { WC_EPILOGUE } from './wc-shared.js';

interface FromArgs extends GlobalArgs, RegistryArgs {
  image: string;
  name?: string;
  pull: string;
  quiet: boolean;
}

export const fromCommand: CommandModule<GlobalArgs, FromArgs> = {
  command: 'from <image>',
  describe: 'Create a working container from an image (or scratch) and print its name (buildah from)',
  builder: (y) =>
    registryOptions(y)
      .positional('image', { type: 'string', demandOption: true, describe: 'image name or ID, or "scratch" for an empty container' })
      .option('name', { type: 'string', describe: 'name the container (default: <image>-working-container[-N])' })
      .option('pull', { type: 'string', default: 'missing', describe: 'pull the image: always, missing (default), never, or newer' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no pull progress' })
      .example('$0 from busybox', 'prints busybox-working-container')
      .example('ctr=$($0 from --name app localhost/base) && $0 copy $ctr app.sh /usr/local/bin/', 'script it as with buildah')
      .example('$0 from scratch', 'an empty working container (prints working-container)')
      .epilogue(WC_EPILOGUE) as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { fromImage } = await import('../../working/from.js');
    const { parsePullPolicy } = await import('../../remote/policy.js');
    const { createProgress } = await import('../../remote/progress.js');
    const progress = createProgress({ stream: process.stderr, quiet: args.quiet });
    try {
      const record = await withAbortOnSignals((signal) =>
        fromImage(stores, {
          image: args.image,
          name: args.name,
          pull: { policy: parsePullPolicy(args.pull), flags: registryFlags(args), progress },
          signal,
        }),
      );
      process.stdout.write(`${record.name}\n`);
    } finally {
      progress.close();
    }
  },
};
