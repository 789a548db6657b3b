import type { CommandModule } from 'yargs';
import { storesFor, type GlobalArgs } from '../global.js';

interface SaveArgs extends GlobalArgs {
  images: string[];
  output: string;
  format: 'oci-archive' | 'docker-archive';
}

export const saveCommand: CommandModule<GlobalArgs, SaveArgs> = {
  command: 'save <images..>',
  describe: 'Write images to an OCI or Docker archive',
  builder: (y) =>
    y
      .positional('images', { type: 'string', array: true, demandOption: true })
      .option('output', { alias: 'o', type: 'string', demandOption: true, describe: 'archive file to write ("-" for stdout)' })
      .option('format', { choices: ['oci-archive', 'docker-archive'] as const, default: 'docker-archive' as const, describe: 'archive format' })
      .example('$0 save --format oci-archive -o hello.tar hello', 'an OCI archive that skopeo, podman and umoci read')
      .example('$0 save -o hello.tar hello', 'a docker-archive, for "docker load" or "podman load"') as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { saveImages } = await import('../../image/archive/index.js');
    await saveImages(stores, args.images, { format: args.format, output: args.output });
  },
};
