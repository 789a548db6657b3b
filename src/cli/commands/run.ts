import type { CommandModule } from 'yargs';
import { storesFor, type GlobalArgs } from '../global.js';
import { registryFlags, registryOptions, type RegistryArgs } from '../registry-flags.js';
import { withAbortOnSignals } from '../signals.js';

interface RunArgs extends GlobalArgs, RegistryArgs {
  pull: string;
  image: string;
  command: string[];
  rm: boolean;
  name?: string;
  env: string[];
  workdir?: string;
  user?: string;
  entrypoint?: string;
  network: 'host' | 'none';
}

export const runCommand: CommandModule<GlobalArgs, RunArgs> = {
  command: 'run <image> [command..]',
  describe: 'Run a command in a new container, in the foreground',
  builder: (y) =>
    registryOptions(y)
      .parserConfiguration({ 'populate--': true })
      .positional('image', { type: 'string', demandOption: true, describe: 'image name or ID' })
      .positional('command', { type: 'string', array: true, nargs: 1, default: [], describe: 'command and arguments (default: the image CMD)' })
      .option('rm', { type: 'boolean', default: false, describe: 'remove the container when it exits' })
      .option('name', { type: 'string', describe: 'name the container' })
      .option('env', { alias: 'e', type: 'string', array: true, nargs: 1, default: [], describe: 'set an environment variable, KEY=VALUE (KEY alone passes ours)' })
      .option('workdir', { alias: 'w', type: 'string', describe: 'working directory inside the container' })
      .option('user', { alias: 'u', type: 'string', describe: 'user[:group] to run as (name or ID)' })
      .option('entrypoint', { type: 'string', describe: 'override the image ENTRYPOINT (a string or a JSON array)' })
      .option('network', { alias: 'net', choices: ['host', 'none'] as const, default: 'host' as const, describe: 'network mode' })
      .option('pull', { type: 'string', default: 'missing', describe: 'pull the image: always, missing (default), never, or newer' })
      .example('$0 run --rm hello', 'run the image CMD and remove the container afterwards')
      .example('$0 run --rm --pull=always --tls-verify=false 127.0.0.1:5000/team/app:1', 'pull the image again, then run it')
      .example('$0 run --rm -e NAME=world -w /tmp hello sh -c \'echo hello $NAME from $(pwd)\'', 'run a command with an env var and workdir') as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { createRuncRuntime } = await import('../../runtime/index.js');
    const { runContainer } = await import('../../container/run.js');
    const { parsePullPolicy } = await import('../../remote/policy.js');
    const { createProgress } = await import('../../remote/progress.js');
    const policy = parsePullPolicy(args.pull);
    const runtime = createRuncRuntime({ stateRoot: stores.layout.runcState, logger: stores.logger });
    const exitCode = await withAbortOnSignals((signal) =>
      runContainer(stores, runtime, {
        image: args.image,
        command: [...args.command, ...((args as { '--'?: unknown[] })['--'] ?? [])].map(String),
        name: args.name,
        env: args.env,
        workdir: args.workdir,
        user: args.user,
        entrypoint: args.entrypoint,
        network: args.network,
        remove: args.rm,
        signal,
        pull: { policy, flags: registryFlags(args), progress: createProgress({ stream: process.stderr }) },
      }),
    );
    process.exitCode = exitCode;
  },
};
