import type { CommandModule } from 'yargs';
import { storesFor, type GlobalArgs } from '../global.js';
import { table } from '../render.js';
import { WC_EPILOGUE } from './wc-shared.js';

interface ContainersArgs extends GlobalArgs {
  all: boolean;
  quiet: boolean;
  json: boolean;
  notruncate: boolean;
}

export const containersCommand: CommandModule<GlobalArgs, ContainersArgs> = {
  command: 'containers',
  describe: 'List working containers (buildah containers); -a also lists run containers',
  builder: (y) =>
    y
      .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'also containers made by run/create (BUILDER is empty for them)' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'print container IDs only' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON (buildah\'s fields)' })
      .option('notruncate', { type: 'boolean', default: false, describe: 'print IDs in full' })
      .example('$0 containers', 'CONTAINER ID  BUILDER  IMAGE ID  IMAGE NAME  CONTAINER NAME')
      .example('$0 containers -aq', 'the IDs of all containers')
      .epilogue(WC_EPILOGUE) as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { listWorkingContainers } = await import('../../working/inspect.js');
    const rows = await listWorkingContainers(stores, args.all);
    const id = (full: string): string => (args.notruncate ? full : full.slice(0, 12));
    if (args.json) {
      const out = rows.map((r) => ({ id: r.id, builder: r.builder, imageid: r.imageId, imagename: r.imageName, containername: r.name }));
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return;
    }
    if (args.quiet) {
      process.stdout.write(rows.map((r) => `${id(r.id)}\n`).join(''));
      return;
    }
    const lines = [['CONTAINER ID', 'BUILDER', 'IMAGE ID', 'IMAGE NAME', 'CONTAINER NAME']];
    for (const r of rows) lines.push([id(r.id), r.builder ? '*' : '', id(r.imageId), r.imageName, r.name]);
    process.stdout.write(table(lines));
  },
};
