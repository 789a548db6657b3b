// Run while the start-up snapshot is built (snapshot-entry.ts), never by a command. V8 compiles a
// function when it is first called, and a snapshot keeps the bytecode of every function that ran
// while it was built; what did not run there is compiled again by every command that calls it.
// yargs, its parser and the commands' option builders run at every start-up, so they run here once:
// each command line below goes through the real parser with its command's real builder and fails
// validation on purpose (the unknown flag), so no handler runs and nothing touches the disk, the
// store or the network; a line that does not stop there fails the build. The command modules of
// these lines are evaluated in the snapshot too: none of them may read the environment when it
// loads (snapshot-entry.ts). Interleaved runs: version 69 -> 64 ms, push again 135 -> 126, run --rm
// 223 -> 211.
import { commandIndex, rewriteArgv } from './argv.js';
import { cliFor } from './main.js';

/** An argument no command knows (with its value, so it takes no positional): strict mode stops every line below before its handler. */
const STOP = '--tsbuild-snapshot-warm-up=1';

/** The commands used most, written as people write them. */
const COMMAND_LINES: string[][] = [
  ['run', '--rm', '-it', '-e', 'A=1', '-v', '/a:/b', '-p', '8080:80', '--name', 'c', 'image', 'sh', '-c', 'true'],
  ['run', '-d', '--network', 'none', 'image'],
  ['create', 'image', 'true'],
  ['start', 'c'],
  ['stop', '-t', '1', 'c'],
  ['rm', '-f', 'c'],
  ['ps', '-a'],
  ['exec', '-it', 'c', 'sh'],
  ['logs', '-f', 'c'],
  ['bud', '-f', 'Containerfile', '-t', 'name', '--layers', '.'],
  ['images'],
  ['inspect', 'name'],
  ['rmi', 'name'],
  ['tag', 'name', 'other'],
  ['push', '--tls-verify=false', 'name', 'registry.example/name:1'],
  ['pull', 'registry.example/name:1'],
  ['login', '-u', 'user', 'registry.example'],
  ['version'],
];

class Stopped extends Error {}

export async function warmUp(): Promise<void> {
  for (const line of COMMAND_LINES) {
    // Right after the command word: run and exec take what follows the image as the command's own.
    const argv = rewriteArgv([line[0]!, STOP, ...line.slice(1)]);
    // A failure handler that returns would let yargs go on to the handler: this one throws.
    const cli = await cliFor(argv, commandIndex(argv), (message) => {
      throw new Stopped(message);
    });
    // (yargs may throw from parseAsync itself, before it returns a promise.)
    const stopped = await Promise.resolve().then(() => cli.parseAsync()).then(
      () => false,
      // Stopped by that flag alone: the rest of the line was parsed as a command takes it.
      (err: unknown) => err instanceof Stopped && /^Unknown arguments?: tsbuild-snapshot-warm-up(, tsbuildSnapshotWarmUp)?$/.test(err.message),
    );
    if (!stopped) throw new Error(`snapshot warm-up: "${line.join(' ')}" did not stop at ${STOP} alone`);
  }
}
