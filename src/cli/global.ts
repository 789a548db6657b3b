// What every command shares: the global flags, the logger, and opening the store root lazily (so
// `--help` and `version` never touch the disk).
import type { Argv } from 'yargs';
import { LOG_LEVELS, createLogger, type LogLevel, type Logger } from '../log.js';
import { DEFAULT_ROOT, openStores, type Stores } from '../store/root.js';

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

let logger: Logger | undefined;
export function loggerFor(args: GlobalArgs): Logger {
  logger ??= createLogger(args['log-level']);
  return logger;
}

export async function storesFor(args: GlobalArgs): Promise<Stores> {
  return openStores({ root: args.root, logger: loggerFor(args) });
}

/** Whether a failure should print a stack trace (only when debugging). */
export function wantsStack(argv: readonly string[]): boolean {
  const i = argv.findIndex((a) => a === '--log-level' || a.startsWith('--log-level='));
  const level = i < 0 ? process.env.TSBUILD_LOG_LEVEL : argv[i]!.includes('=') ? argv[i]!.split('=')[1] : argv[i + 1];
  return level === 'debug' || level === 'trace';
}
