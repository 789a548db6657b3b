import type { CommandModule } from 'yargs';
import { storesFor, type GlobalArgs } from '../global.js';
import { humanAge, humanSize, table } from '../render.js';

interface ImagesArgs extends GlobalArgs {
  quiet: boolean;
  json: boolean;
  trunc: boolean;
}

export const imagesCommand: CommandModule<GlobalArgs, ImagesArgs> = {
  command: 'images',
  describe: 'List images in local storage',
  builder: (y) =>
    y
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'print image IDs only' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON' })
      // "trunc", so that yargs accepts --no-trunc as its negation (strict mode rejects it otherwise).
      .option('trunc', { type: 'boolean', default: true, describe: 'shorten image IDs (--no-trunc: print them in full)' })
      .example('$0 images', 'list local images')
      .example('$0 images -q', 'print just their IDs') as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { loadImage } = await import('../../image/image.js');
    const images = await stores.images.list();
    const id = (full: string): string => (args.trunc ? full.slice(7, 19) : full);
    if (args.quiet) {
      process.stdout.write(images.map((i) => `${id(i.id)}\n`).join(''));
      return;
    }
    const rows = await Promise.all(
      images.map(async (record) => {
        const image = await loadImage(stores, record);
        return { record, size: image.layers.reduce((n, l) => n + l.size, 0) };
      }),
    );
    if (args.json) {
      const out = rows.map(({ record, size }) => ({ id: record.id.slice(7), names: record.names, digest: record.manifestDigest, created: record.created, size }));
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return;
    }
    const lines = [['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE']];
    for (const { record, size } of rows) {
      const names = record.names.length > 0 ? record.names : ['<none>:<none>'];
      for (const name of names) {
        const colon = name.lastIndexOf(':');
        lines.push([name.slice(0, colon), name.slice(colon + 1), id(record.id), humanAge(record.created), humanSize(size)]);
      }
    }
    process.stdout.write(table(lines));
  },
};
