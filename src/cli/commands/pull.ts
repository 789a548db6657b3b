// tsbuild pull: an image from a registry, or from oci:/oci-archive:/docker-archive:, into local storage.
import type { CommandModule } from 'yargs';
import { storesFor, type GlobalArgs } from '../global.js';
import { registryFlags, registryOptions, type RegistryArgs } from '../registry-flags.js';
import { withAbortOnSignals } from '../signals.js';

interface PullArgs extends GlobalArgs, RegistryArgs {
  image: string;
  platform?: string;
  quiet: boolean;
}

export const pullCommand: CommandModule<GlobalArgs, PullArgs> = {
  command: 'pull <image>',
  describe: 'Pull an image from a registry (or an oci:, oci-archive: or docker-archive: location)',
  builder: (y) =>
    registryOptions(
      y
        .positional('image', { type: 'string', demandOption: true, describe: 'registry/repository[:tag|@digest], docker://..., oci:DIR[:REF], oci-archive:FILE[:REF] or docker-archive:FILE[:REF]' })
        .option('platform', { type: 'string', describe: 'os/arch[/variant] to pick from a multi-platform image (default: this host)' })
        .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no progress output; print only the image ID' }),
    )
      .example('$0 pull registry.example.com/team/base:1.2', 'pull a tagged image; prints its image ID')
      .example('$0 pull --tls-verify=false 127.0.0.1:5000/app@sha256:<digest>', 'pull by digest from a plain-HTTP registry')
      .example('$0 pull --platform linux/arm64 docker.io/library/busybox', 'pull another platform\'s image from an index')
      .example('$0 pull oci-archive:app.tar', 'import an OCI archive (like load)') as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { pullImage, createProgress } = await import('../../remote/index.js');
    const progress = createProgress({ stream: process.stderr, quiet: args.quiet });
    try {
      const record = await withAbortOnSignals((signal) =>
        pullImage(stores, args.image, { ...registryFlags(args), platform: args.platform, progress, signal, logger: stores.logger }),
      );
      process.stdout.write(`${record.id.replace(/^sha256:/, '')}\n`);
    } finally {
      progress.close();
    }
  },
};
