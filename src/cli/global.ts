// What every command shares: the global flags, the logger, and opening the store root lazily (so
// `--help` and `version` never touch the disk).
import type { Argv } from 'yargs';
import { LOG_LEVELS, type LogLevel } from '../log-levels.js';
import type { Stores } from '../store/root.js';

/**
 * store/root.ts's DEFAULT_ROOT, repeated so that loading the CLI does not load the store (tens of
 * modules that --help, --version and usage errors never use); a unit test keeps the two equal.
 */
export const DEFAULT_ROOT = '/var/lib/tsbuild';

export interface GlobalArgs {
  root: string;
  'log-level': LogLevel;
}

export function globalOptions<T>(yargs: Argv<T>): Argv<T & GlobalArgs> {
  return yargs
    .option('root', {
      type: 'string',
      default: process.env.TSBUILD_ROOT || DEFAULT_ROOT,
      defaultDescription: '$TSBUILD_ROOT or /var/lib/tsbuild',
      describe: 'storage root directory',
      global: true,
    })
    .option('log-level', {
      choices: LOG_LEVELS,
      default: (process.env.TSBUILD_LOG_LEVEL as LogLevel | undefined) ?? 'warn',
      describe: 'log messages at this level and above to stderr',
      global: true,
    }) as Argv<T & GlobalArgs>;
}

/** Opens the storage root (creating it and recovering leftovers of crashed processes). */
export async function storesFor(args: GlobalArgs): Promise<Stores> {
  // pino and the store load only when a command opens the store, which keeps --help and --version fast.
  const [{ createLogger }, { openStores }] = await Promise.all([import('../log.js'), import('../store/root.js')]);
  return openStores({ root: args.root, logger: createLogger(args['log-level']) });
}

/** Whether a failure should print a stack trace (only when debugging). */
export function wantsStack(argv: readonly string[]): boolean {
  const i = argv.findIndex((a) => a === '--log-level' || a.startsWith('--log-level='));
  const level = i < 0 ? process.env.TSBUILD_LOG_LEVEL : argv[i]!.includes('=') ? argv[i]!.split('=')[1] : argv[i + 1];
  return level === 'debug' || level === 'trace';
}
