// The tsbuild command line: yargs wiring only. Each command lives in commands/ and imports its
// implementation lazily, so `tsbuild --version` and `--help` start fast.
import yargs from 'yargs';
import { reportError } from './exit.js';
import { globalOptions, wantsStack } from './global.js';
import { POLICY_WORDS, normalizePullFlag } from './registry-flags.js';
import { joinNoCacheFilter } from './bud-compat.js';
import { VERSION } from './version.js';
import { buildCommand } from './commands/build.js';
import { imagesCommand } from './commands/images.js';
import { infoCommand } from './commands/info.js';
import { inspectCommand } from './commands/inspect.js';
import { loadCommand } from './commands/load.js';
import { lintCommand } from './commands/lint.js';
import { loginCommand } from './commands/login.js';
import { logsCommand } from './commands/logs.js';
import { networkCommand } from './commands/network.js';
import { logoutCommand } from './commands/logout.js';
import { pullCommand } from './commands/pull.js';
import { pushCommand } from './commands/push.js';
import { rmCommand } from './commands/rm.js';
import { rmiCommand } from './commands/rmi.js';
import { runCommand } from './commands/run.js';
import { saveCommand } from './commands/save.js';
import { tagCommand } from './commands/tag.js';
import { versionCommand } from './commands/version.js';
import { addCommand, copyCommand } from './commands/copy.js';
import { commitCommand } from './commands/commit.js';
import { configCommand } from './commands/config.js';
import { containersCommand } from './commands/containers.js';
import { fromCommand } from './commands/from.js';
import { mountCommand } from './commands/mount.js';
import { umountCommand } from './commands/umount.js';
import { separateWorkingRunCommand, wcCommand } from './commands/wc.js';
import { CONTAINER_VALUE_OPTIONS } from './container-flags.js';
import { containerCommand } from './commands/container.js';
import { createCommand } from './commands/create.js';
import { killCommand } from './commands/kill.js';
import { portCommand } from './commands/port.js';
import { psCommand } from './commands/ps.js';
import { restartCommand } from './commands/restart.js';
import { startCommand } from './commands/start.js';
import { stopCommand } from './commands/stop.js';
import { waitCommand } from './commands/wait.js';
import { volumeCommand } from './commands/volume.js';
import { execCommand } from './commands/exec.js';
import { cpCommand } from './commands/cp.js';
import { topCommand } from './commands/top.js';
import { containerPruneCommand } from './commands/container-prune.js';
import { containerSubcommands } from './commands/container.js';

// exec/cp/top/prune in the `container` group too (podman's `container exec`, `container prune`).
containerSubcommands.push(execCommand as never, cpCommand as never, topCommand as never, containerPruneCommand as never);

// Options of `run`/`create` (and global ones) that take a separate value, so the image can be found.
const RUN_VALUE_OPTIONS = new Set([...CONTAINER_VALUE_OPTIONS, '--root', '--log-level', '--creds', '--authfile', '--cert-dir']);
const IMAGE_COMMAND_WORDS = new Set(['run', 'create']);

/**
 * Everything after the image in `run IMAGE CMD...` belongs to the container, so `--` goes after the
 * image: `run img ls -l` must not read -l as ours (docker and podman behave this way).
 */
export function separateContainerCommand(argv: readonly string[]): string[] {
  let run = commandIndex(argv);
  // `container run|create IMAGE ...` as well.
  if (run >= 0 && argv[run] === 'container') run += 1;
  if (run < 0 || !IMAGE_COMMAND_WORDS.has(argv[run] ?? '') || argv.includes('--')) return [...argv];
  for (let i = run + 1; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith('-')) {
      if (RUN_VALUE_OPTIONS.has(arg)) i++;
      // `--pull` takes a value only when one of the policy words follows (see normalizePullFlag).
      else if (arg === '--pull' && POLICY_WORDS.has((argv[i + 1] ?? '').toLowerCase())) i++;
      continue;
    }
    return [...argv.slice(0, i + 1), '--', ...argv.slice(i + 1)];
  }
  return [...argv];
}

// Options of `exec` (and global ones) that take a separate value, so the container can be found.
const EXEC_VALUE_OPTIONS = new Set(['-e', '--env', '--env-file', '-u', '--user', '-w', '--workdir', '--root', '--log-level']);

/** As separateContainerCommand, for `exec CONTAINER CMD...`: `exec web ls -l` runs `ls -l`. */
export function separateExecCommand(argv: readonly string[]): string[] {
  let exec = commandIndex(argv);
  // `container exec CONTAINER ...` as well.
  if (exec >= 0 && argv[exec] === 'container') exec += 1;
  if (exec < 0 || argv[exec] !== 'exec' || argv.includes('--')) return [...argv];
  for (let i = exec + 1; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith('-')) {
      if (EXEC_VALUE_OPTIONS.has(arg)) i++;
      continue;
    }
    return [...argv.slice(0, i + 1), '--', ...argv.slice(i + 1)];
  }
  return [...argv];
}

const BUD_WORDS = new Set(['bud', 'build', 'build-using-dockerfile']);
// bud's options whose value may be `-` (stdin or stdout), so a `-` after them is not the context.
const BUD_DASH_OPTIONS = new Set(['-f', '--file', '-o', '--output']);

/**
 * `bud [options] -` (the context on stdin, as docker build takes it): yargs drops a lone `-`
 * argument, so it travels as the hidden --stdin-context flag instead.
 */
export function markStdinContext(argv: readonly string[]): string[] {
  const bud = commandIndex(argv);
  const last = argv.length - 1;
  if (bud < 0 || !BUD_WORDS.has(argv[bud]!) || last <= bud || argv[last] !== '-' || BUD_DASH_OPTIONS.has(argv[last - 1]!)) return [...argv];
  return [...argv.slice(0, last), '--stdin-context'];
}

/** Index of the command word: the first argument that is neither a global option nor its value. */
function commandIndex(argv: readonly string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return -1;
    if (!arg.startsWith('-')) return i;
    if (GLOBAL_VALUE_OPTIONS.has(arg)) i++;
  }
  return -1;
}

const GLOBAL_VALUE_OPTIONS = new Set(['--root', '--log-level']);

// Commands whose own failures exit 125 (podman's "the container engine failed"), so they cannot be
// mistaken for a container's exit code.
const PODMAN_EXIT_COMMANDS = new Set([
  'run', 'create', 'start', 'stop', 'kill', 'restart', 'rm', 'wait', 'ps', 'logs', 'exec', 'top', 'port', 'cp',
  'commit', 'container', 'network', 'volume', 'from', 'copy', 'add', 'config', 'mount', 'umount', 'containers', 'wc',
]);

export async function main(rawArgv: string[]): Promise<void> {
  const argv = markStdinContext(joinNoCacheFilter(normalizePullFlag(separateWorkingRunCommand(separateExecCommand(separateContainerCommand(rawArgv))))));
  // The container manager speaks podman's convention: 125 when tsbuild itself fails, the
  // container's code otherwise. (The command word only: `bud -t run .` is a build.)
  const command = commandIndex(argv);
  const defaultExit = command >= 0 && PODMAN_EXIT_COMMANDS.has(argv[command]!) ? 125 : 1;
  try {
    await globalOptions(yargs(argv))
      .scriptName('tsbuild')
      .usage('$0 <command> [options]\n\nA daemonless OCI image builder and container runner.')
      .command(buildCommand)
      .command(lintCommand)
      .command(imagesCommand)
      .command(inspectCommand)
      .command(tagCommand)
      .command(rmiCommand)
      .command(runCommand)
      .command(rmCommand)
      .command(logsCommand)
      .command(saveCommand)
      .command(loadCommand)
      .command(pullCommand)
      .command(pushCommand)
      .command(loginCommand)
      .command(logoutCommand)
      .command(versionCommand)
      .command(createCommand)
      .command(startCommand)
      .command(stopCommand)
      .command(killCommand)
      .command(restartCommand)
      .command(waitCommand)
      .command(psCommand)
      .command(portCommand)
      .command(containerCommand)
      .command(networkCommand)
      .command(volumeCommand)
      .command(infoCommand)
      .command(execCommand)
      .command(cpCommand)
      .command(topCommand)
      .command(wcCommand)
      .command(fromCommand)
      .command(copyCommand)
      .command(addCommand)
      .command(configCommand)
      .command(containersCommand)
      .command(commitCommand)
      .command(mountCommand)
      .command(umountCommand)
      .example('$0 bud -t hello .', 'build the Containerfile in . as localhost/hello:latest')
      .example('$0 run --rm hello', 'run it')
      .example('$0 push hello registry.example.com/team/hello:1', 'push it to a registry')
      .demandCommand(1, 'Error: a command is required (see --help)')
      .recommendCommands()
      .strict()
      .version(VERSION)
      .help()
      .alias('h', 'help')
      .wrap(Math.min(120, process.stdout.columns || 120))
      .fail((message, err) => {
        if (err) throw err;
        process.stderr.write(`Error: ${message.replace(/^Error: /, '')}\n`);
        process.stderr.write('See "tsbuild --help" or "tsbuild <command> --help".\n');
        process.exit(defaultExit);
      })
      .parseAsync();
  } catch (err) {
    process.exitCode = reportError(err, wantsStack(argv), defaultExit);
  }
}
