// `tsbuild wc VERB`: buildah's commands under one group, so `buildah from/run/copy/...` scripts port
// by replacing "buildah " with "tsbuild wc ". `wc run` is buildah's run (a command in a working
// container), which cannot be the top-level `run` (podman's, which runs an image).
import type { CommandModule } from 'yargs';
import { TsbuildError } from '../../errors.js';
import { storesFor, type GlobalArgs } from '../global.js';
import { commandGroup } from '../command-group.js';
import { formatTemplate } from '../render.js';
import { withAbortOnSignals } from '../signals.js';
import { commitCommand } from './commit.js';
import { configCommand } from './config.js';
import { containersCommand } from './containers.js';
import { addCommand, copyCommand } from './copy.js';
import { fromCommand } from './from.js';
import { mountCommand } from './mount.js';
import { umountCommand } from './umount.js';
import { WC_EPILOGUE, strings } from './wc-shared.js';
import { containerCommandWords } from '../container-flags.js';

interface WcRunArgs extends GlobalArgs {
  container: string;
  command: string[];
  user?: string;
  workingdir?: string;
  env?: string[];
  volume?: string[];
  network: string;
  terminal: boolean;
}

const wcRunCommand: CommandModule<GlobalArgs, WcRunArgs> = {
  command: 'run <container> [command..]',
  describe: 'Run a command in a working container, in the foreground (buildah run)',
  builder: (y) =>
    y
      .parserConfiguration({ 'populate--': true })
      .positional('container', { type: 'string', demandOption: true, describe: 'working container name or ID' })
      .positional('command', { type: 'string', array: true, default: [], describe: 'the command and its arguments (after --)' })
      .option('user', { alias: 'u', type: 'string', describe: 'user[:group] (default: the config\'s user)' })
      .option('workingdir', { type: 'string', describe: 'working directory (default: the config\'s)' })
      .option('env', { alias: 'e', type: 'string', array: true, nargs: 1, describe: 'extra NAME=VALUE for this command only' })
      .option('volume', { alias: 'v', type: 'string', array: true, nargs: 1, describe: 'bind mount /host:/container[:ro] for this command only' })
      .option('network', { alias: 'net', type: 'string', default: 'host', describe: 'host (default), none, or private/bridge (the default tsbuild network) or a network NAME: a namespace of its own there' })
      .option('terminal', { alias: 't', type: 'boolean', default: false, describe: 'allocate a terminal' })
      .example('$0 wc run app-working-container -- sh -c \'echo built > /built\'', 'the change stays in the container for commit')
      .example('$0 wc run -v $PWD:/src:ro app-working-container -- cp -r /src /app', 'with a bind mount')
      .epilogue(WC_EPILOGUE) as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { createRuncRuntime } = await import('../../runtime/index.js');
    const { runInWorkingContainer } = await import('../../working/run.js');
    const runtime = createRuncRuntime({ stateRoot: stores.layout.runcState, logger: stores.logger });
    const command = containerCommandWords(args);
    process.exitCode = await withAbortOnSignals((signal) =>
      runInWorkingContainer(stores, runtime, {
        container: args.container,
        command,
        user: args.user,
        workdir: args.workingdir,
        env: strings(args.env),
        volumes: strings(args.volume),
        network: args.network,
        terminal: args.terminal,
        signal,
      }),
    );
  },
};

interface WcRmArgs extends GlobalArgs {
  containers: string[];
  all: boolean;
  force: boolean;
}

const wcRmCommand: CommandModule<GlobalArgs, WcRmArgs> = {
  command: 'rm [containers..]',
  describe: 'Remove working containers (buildah rm)',
  builder: (y) =>
    y
      .positional('containers', { type: 'string', array: true, default: [], describe: 'working container names or IDs' })
      .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'remove every working container' })
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'remove even while a "wc run" uses it' })
      .example('$0 wc rm app-working-container', 'unmount and remove it')
      .example('$0 wc rm -a', 'remove all working containers')
      .epilogue(WC_EPILOGUE) as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { getWorkingContainer, listAllContainers } = await import('../../working/records.js');
    const { removeWorkingContainer } = await import('../../working/remove.js');
    const records = args.all
      ? (await listAllContainers(stores)).filter((r) => r.kind === 'working')
      : await Promise.all(args.containers.map((ref) => getWorkingContainer(stores, String(ref))));
    if (!args.all && records.length === 0) throw new TsbuildError('INVALID_ARGUMENT', 'wc rm: name a container, or use --all');
    for (const record of records) {
      await removeWorkingContainer(stores, record, { force: args.force });
      process.stdout.write(`${record.id}\n`);
    }
  },
};

interface WcInspectArgs extends GlobalArgs {
  name: string;
  format?: string;
  type: 'container' | 'image';
}

const wcInspectCommand: CommandModule<GlobalArgs, WcInspectArgs> = {
  command: 'inspect <name>',
  describe: 'Show a working container as JSON, as buildah inspect does (--type image: an image)',
  builder: (y) =>
    y
      .positional('name', { type: 'string', demandOption: true, describe: 'working container (or, with --type image, image) name or ID' })
      .option('format', { alias: 'f', type: 'string', describe: 'Go-template-like format, e.g. "{{.OCIv1.config.Cmd}}"' })
      .option('type', { alias: 't', choices: ['container', 'image'] as const, default: 'container' as const, describe: 'what to inspect' })
      .example('$0 wc inspect app-working-container', 'buildah inspect\'s JSON: FromImage, Container, MountPoint, OCIv1, ...')
      .example('$0 wc inspect -f "{{.OCIv1.config.Env}}" app-working-container', 'one field')
      .epilogue(WC_EPILOGUE) as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    let result: unknown;
    if (args.type === 'image') {
      const { inspectImage } = await import('../../image/inspect.js');
      result = await inspectImage(stores, await stores.images.get(args.name));
    } else {
      const { getWorkingContainer } = await import('../../working/records.js');
      const { inspectWorking } = await import('../../working/inspect.js');
      result = await inspectWorking(stores, await getWorkingContainer(stores, args.name));
    }
    process.stdout.write(args.format !== undefined ? `${formatTemplate(args.format, result)}\n` : `${JSON.stringify(result, null, 4)}\n`);
  },
};

export const wcCommand = commandGroup({
  name: 'wc',
  describe: 'Working containers, buildah\'s commands: from, run, copy, add, config, commit, mount, umount, containers, rm, inspect',
  subcommands: [fromCommand, wcRunCommand, copyCommand, addCommand, configCommand, commitCommand, mountCommand, umountCommand, containersCommand, wcRmCommand, wcInspectCommand] as never[],
  examples: [
    ['ctr=$($0 wc from localhost/busybox)', 'a working container on an image'],
    ['$0 wc copy $ctr ./hello /hello && $0 wc config --cmd \'["cat","/hello"]\' $ctr', 'add a file, set the command'],
    ['$0 wc run $ctr -- sh -c \'echo built > /built\' && $0 wc commit $ctr myimg', 'run in it, commit it'],
  ],
  epilogue: WC_EPILOGUE,
});
