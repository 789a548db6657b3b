// `tsbuild exec`: a command in a running container (podman/docker exec).
import type { CommandModule } from 'yargs';
import { storesFor, type GlobalArgs } from '../global.js';
import { containerCommandWords } from '../container-flags.js';

interface ExecArgs extends GlobalArgs {
  container: string;
  command: string[];
  interactive: boolean;
  tty: boolean;
  detach: boolean;
  env: string[];
  'env-file': string[];
  user?: string;
  workdir?: string;
  privileged: boolean;
}

export const execCommand: CommandModule<GlobalArgs, ExecArgs> = {
  command: 'exec <container> [command..]',
  describe: 'Run a command in a running container',
  builder: (y) =>
    y
      .parserConfiguration({ 'populate--': true })
      .positional('container', { type: 'string', demandOption: true, describe: 'container name or ID' })
      .positional('command', { type: 'string', array: true, default: [], describe: 'command and arguments' })
      .option('interactive', { alias: 'i', type: 'boolean', default: false, describe: 'pass our stdin to the command' })
      .option('tty', { alias: 't', type: 'boolean', default: false, describe: 'allocate a terminal (ours must be one)' })
      .option('detach', { alias: 'd', type: 'boolean', default: false, describe: 'start the command and return at once' })
      .option('env', { alias: 'e', type: 'string', array: true, nargs: 1, default: [], describe: 'set an environment variable, KEY=VALUE (KEY alone passes ours)' })
      .option('env-file', { type: 'string', array: true, nargs: 1, default: [], describe: 'read environment variables from a file (KEY=VALUE lines)' })
      .option('user', { alias: 'u', type: 'string', describe: 'user[:group] to run as (name or ID; default: the container\'s)' })
      .option('workdir', { alias: 'w', type: 'string', describe: 'working directory (default: the container\'s)' })
      .option('privileged', { type: 'boolean', default: false, describe: "give the command every capability (the container's seccomp filter still applies)" })
      .example('$0 exec web ls -l /srv', 'run ls in the container web')
      .example('$0 exec -it web sh', 'an interactive shell in it')
      .example('$0 exec -u 1000 -w /tmp -e DEBUG=1 web env', 'as uid 1000 in /tmp with an extra variable') as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { execInContainer } = await import('../../container/exec.js');
    const { readEnvFile } = await import('../container-flags.js');
    const env: string[] = [];
    for (const file of args['env-file']) env.push(...(await readEnvFile(file)));
    process.exitCode = await execInContainer(stores, {
      container: args.container,
      command: containerCommandWords(args),
      interactive: args.interactive,
      tty: args.tty,
      detach: args.detach,
      env: [...env, ...args.env],
      user: args.user,
      workdir: args.workdir,
      privileged: args.privileged,
    });
  },
};
