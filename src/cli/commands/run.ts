import type { CommandModule } from 'yargs';
import { TsbuildError } from '../../errors.js';
import { containerOptions, containerRequest, type ContainerArgs } from '../container-flags.js';
import { storesFor, type GlobalArgs } from '../global.js';

interface RunArgs extends ContainerArgs {
  detach: boolean;
}

export const runCommand: CommandModule<GlobalArgs, RunArgs> = {
  command: 'run <image> [command..]',
  describe: 'Run a command in a new container (in the foreground, or detached with -d)',
  builder: (y) =>
    containerOptions(y)
      .option('detach', { alias: 'd', type: 'boolean', default: false, describe: 'run in the background and print the container ID' })
      .example('$0 run --rm hello', 'run the image CMD and remove the container afterwards')
      .example('$0 run -d --name web -p 127.0.0.1:8080:80 web:dev', 'run a server in the background with a published port')
      .example('$0 run -it --rm hello sh', 'an interactive shell')
      .example('$0 run --rm --pull=always --tls-verify=false 127.0.0.1:5000/team/app:1', 'pull the image again, then run it')
      .example('$0 run --rm -e NAME=world -w /tmp hello sh -c \'echo hello $NAME from $(pwd)\'', 'run a command with an env var and workdir') as never,
  handler: async (args) => {
    if (args.tty && !args.detach && !process.stdin.isTTY) {
      throw new TsbuildError('INVALID_ARGUMENT', 'the input device is not a TTY', { exitCode: 125, hint: 'run without -t, or from a terminal' });
    }
    const [stores, request] = await Promise.all([storesFor(args), containerRequest(args)]);
    const { runContainer } = await import('../../container/run.js');
    const result = await runContainer(stores, { ...request, detach: args.detach });
    if (args.detach) process.stdout.write(`${result.record.id}\n`);
    else process.exitCode = result.exitCode ?? 0;
  },
};
