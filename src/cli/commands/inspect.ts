import type { CommandModule } from 'yargs';
import { TsbuildError } from '../../errors.js';
import { storesFor, type GlobalArgs } from '../global.js';
import { formatTemplate } from '../render.js';

interface InspectArgs extends GlobalArgs {
  names: string[];
  format?: string;
  type: 'image' | 'container' | 'all';
}

export const inspectCommand: CommandModule<GlobalArgs, InspectArgs> = {
  command: 'inspect <names..>',
  describe: 'Show the configuration of images or containers as JSON',
  builder: (y) =>
    y
      .positional('names', { type: 'string', array: true, demandOption: true, describe: 'image or container names or IDs' })
      .option('format', { alias: 'f', type: 'string', describe: 'Go-template-like format, e.g. "{{.Config.Cmd}}" or "{{json .Config}}"' })
      .option('type', { alias: 't', choices: ['image', 'container', 'all'] as const, default: 'all' as const, describe: 'what to look for' })
      .example('$0 inspect hello', 'the image config of hello as JSON')
      .example('$0 inspect -f "{{.Config.Entrypoint}}" hello', 'one field') as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { inspectImage } = await import('../../image/inspect.js');
    const { findContainer, inspectContainer } = await import('../../container/records.js');
    const results: unknown[] = [];
    for (const name of args.names) {
      const container = args.type !== 'image' ? await findContainer(stores, name) : undefined;
      if (container) {
        results.push(inspectContainer(container));
        continue;
      }
      if (args.type === 'container') throw new TsbuildError('NOT_FOUND', `container "${name}" not found`);
      results.push(await inspectImage(stores, await stores.images.get(name)));
    }
    if (args.format !== undefined) {
      process.stdout.write(results.map((r) => `${formatTemplate(args.format!, r)}\n`).join(''));
    } else {
      process.stdout.write(`${JSON.stringify(results, null, 4)}\n`);
    }
  },
};
