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
  describe: 'Show the configuration and state of containers or images as JSON',
  builder: (y) =>
    y
      .positional('names', { type: 'string', array: true, demandOption: true, describe: 'container or image names or IDs' })
      .option('format', { alias: 'f', type: 'string', describe: 'Go-template-like format, e.g. "{{.State.Status}}" or "{{json .Config}}"' })
      .option('type', { alias: 't', choices: ['image', 'container', 'all'] as const, default: 'all' as const, describe: 'what to look for' })
      .example('$0 inspect hello', 'the image config of hello as JSON')
      .example('$0 inspect -f "{{.State.Status}} {{.State.ExitCode}}" web', 'the state of the container web')
      .example('$0 inspect -f "{{.Config.Entrypoint}}" hello', 'one field') as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const results: unknown[] = [];
    for (const name of args.names) {
      if (args.type !== 'image') {
        const { findContainer } = await import('../../container/records.js');
        const container = await findContainer(stores, name);
        if (container) {
          const { inspectContainer } = await import('../../container/inspect.js');
          results.push(inspectContainer(container));
          continue;
        }
        if (args.type === 'container') throw new TsbuildError('NOT_FOUND', `no container with name or ID "${name}" found`, { exitCode: 125 });
      }
      const { inspectImage } = await import('../../image/inspect.js');
      results.push(await inspectImage(stores, await stores.images.get(name)));
    }
    if (args.format !== undefined) {
      process.stdout.write(results.map((r) => `${formatTemplate(args.format!, r)}\n`).join(''));
    } else {
      process.stdout.write(`${JSON.stringify(results, null, 4)}\n`);
    }
  },
};
