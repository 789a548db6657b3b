import type { CommandModule } from 'yargs';
import { containerOptions, containerRequest, type ContainerArgs } from '../container-flags.js';
import { storesFor, type GlobalArgs } from '../global.js';

export const createCommand: CommandModule<GlobalArgs, ContainerArgs> = {
  command: 'create <image> [command..]',
  describe: 'Create a container without starting it; prints its ID',
  builder: (y) =>
    containerOptions(y)
      .example('$0 create --name web -p 8080:80 web:dev', 'create a container, start it later with "tsbuild start web"')
      .example('$0 create --restart=on-failure:3 --memory 64m app', 'with a restart policy and a memory limit') as never,
  handler: async (args) => {
    const [stores, request] = await Promise.all([storesFor(args), containerRequest(args)]);
    const { createContainer } = await import('../../container/create.js');
    const record = await createContainer(stores, request);
    process.stdout.write(`${record.id}\n`);
  },
};
