// The tsbuild command line: yargs wiring only. Each command lives in commands/ and imports its
// implementation lazily, and only the named command's module is loaded (command-table.ts), so
// start-up stays fast.
import { reportError } from './exit.js';
import { globalOptions, wantsStack } from './global.js';
import { VERSION } from './version.js';
import { commandsFor } from './command-table.js';
import { asksOnlyVersion, commandIndex, rewriteArgv } from './argv.js';
import type { Argv } from 'yargs';

// Commands whose own failures exit 125 (podman's "the container engine failed"), so they cannot be
// mistaken for a container's exit code.
const PODMAN_EXIT_COMMANDS = new Set([
  'run', 'create', 'start', 'stop', 'kill', 'restart', 'rm', 'wait', 'ps', 'logs', 'exec', 'top', 'port', 'cp',
  'commit', 'container', 'network', 'volume', 'from', 'copy', 'add', 'config', 'mount', 'umount', 'containers', 'wc',
]);

/**
 * yargs renders the named command's whole help text before it runs the handler (12-15 ms for run's
 * or bud's ~80 options), so that showHelp() called from a handler could print that command's help.
 * No tsbuild handler shows help (a failure is one line, see .fail below), so the cache is skipped.
 * The hook is yargs' internal usage object; when a later yargs lacks it, nothing changes.
 */
function skipHelpCache(cli: object): void {
  const internal = (cli as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } } }).getInternalMethods?.();
  const usage = internal?.getUsageInstance?.();
  if (typeof usage?.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => undefined;
}

export async function main(rawArgv: string[]): Promise<void> {
  const argv = rewriteArgv(rawArgv);
  // The container manager speaks podman's convention: 125 when tsbuild itself fails, the
  // container's code otherwise. (The command word only: `bud -t run .` is a build.)
  const command = commandIndex(argv);
  const defaultExit = command >= 0 && PODMAN_EXIT_COMMANDS.has(argv[command]!) ? 125 : 1;
  if (command < 0 && asksOnlyVersion(argv)) {
    // What yargs' .version() prints, without loading every command module first.
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  try {
    const cli = await cliFor(argv, command, (message, err) => {
      if (err) throw err;
      process.stderr.write(`Error: ${message.replace(/^Error: /, '')}\n`);
      process.stderr.write('See "tsbuild --help" or "tsbuild <command> --help".\n');
      process.exit(defaultExit);
    });
    await cli.parseAsync();
  } catch (err) {
    process.exitCode = reportError(err, wantsStack(argv), defaultExit);
  }
}

/** The yargs parser of `argv` with the commands it names (all of them when it names none). */
export async function cliFor(argv: string[], command: number, fail: (message: string, err: Error | undefined) => void): Promise<Argv> {
  // Loaded here, after the --version answer above, which needs none of it.
  const { default: yargs } = await import('yargs');
  let cli = globalOptions(yargs(argv));
  skipHelpCache(cli);
  for (const c of await commandsFor(command >= 0 ? argv[command] : undefined)) cli = cli.command(c as never);
  return cli
    .scriptName('tsbuild')
    // English, as every message of tsbuild's own; yargs would follow LANG for its part of the help.
    .detectLocale(false)
    .usage('$0 <command> [options]\n\nA daemonless OCI image builder and container runner.')
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
    .fail(fail) as unknown as Argv;
}
