// tsbuild push: a local image to a registry (or to oci:, oci-archive: or docker-archive:).
import type { CommandModule } from 'yargs';
import { TsbuildError } from '../../errors.js';
import { storesFor, type GlobalArgs } from '../global.js';
import { registryFlags, registryOptions, type RegistryArgs } from '../registry-flags.js';
import { withAbortOnSignals } from '../signals.js';

interface PushArgs extends GlobalArgs, RegistryArgs {
  image: string;
  destination?: string;
  format?: 'oci' | 'docker';
  'compression-format': 'gzip' | 'zstd';
  'compression-level'?: number;
  digestfile?: string;
  quiet: boolean;
}

export const pushCommand: CommandModule<GlobalArgs, PushArgs> = {
  command: 'push <image> [destination]',
  describe: 'Push an image to a registry (or an oci:, oci-archive: or docker-archive: location)',
  builder: (y) =>
    registryOptions(
      y
        .positional('image', { type: 'string', demandOption: true, describe: 'local image name or ID' })
        .positional('destination', { type: 'string', describe: 'registry/repository[:tag|@digest] (docker:// optional), oci:DIR[:REF], oci-archive:FILE[:REF] or docker-archive:FILE[:REF]; default: the image name' })
        .option('format', { alias: 'f', choices: ['oci', 'docker'] as const, describe: 'manifest format (default: the image\'s own)' })
        .option('compression-format', { choices: ['gzip', 'zstd'] as const, default: 'gzip' as const, describe: 'layer compression (zstd needs --format oci)' })
        .option('compression-level', { type: 'number', describe: 'compression level (gzip 0-9, default 6; zstd 1-19, default 3)' })
        .option('digestfile', { type: 'string', describe: 'write the digest of the pushed manifest to this file' })
        .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no progress output' }),
    )
      .example('$0 push hello registry.example.com/team/hello:1.0', 'push localhost/hello:latest under another name')
      .example('$0 push --tls-verify=false 127.0.0.1:5000/team/app:1', 'push an image named after its registry to a plain-HTTP registry')
      .example('$0 push --format docker --digestfile app.digest app registry.example.com/app:1', 'a Docker schema 2 manifest; its digest written to app.digest')
      .example('$0 push --compression-format zstd app registry.example.com/app:zstd', 'zstd-compressed layers')
      .example('$0 push app oci:/srv/layout:app', 'into an OCI layout directory, as skopeo writes them') as never,
  handler: async (args) => {
    const level = args['compression-level'];
    if (level !== undefined && Number.isNaN(level)) throw new TsbuildError('INVALID_ARGUMENT', '--compression-level must be a number');
    const stores = await storesFor(args);
    // push.js, not the index: a push needs none of pull's modules.
    const [{ pushImage }, { createProgress }] = await Promise.all([import('../../remote/push.js'), import('../../remote/progress.js')]);
    const progress = createProgress({ stream: process.stderr, quiet: args.quiet });
    try {
      await withAbortOnSignals((signal) =>
        pushImage(stores, args.image, args.destination, {
          ...registryFlags(args),
          format: args.format,
          compressionFormat: args['compression-format'],
          compressionLevel: level,
          digestfile: args.digestfile,
          progress,
          signal,
          logger: stores.logger,
        }),
      );
    } finally {
      progress.close();
    }
  },
};
