import type { CommandModule } from 'yargs';
import { TsbuildError } from '../../errors.js';
import { storesFor, type GlobalArgs } from '../global.js';

interface LogsArgs extends GlobalArgs {
  container: string;
  follow: boolean;
  tail?: string;
  since?: string;
  until?: string;
  timestamps: boolean;
}

export const logsCommand: CommandModule<GlobalArgs, LogsArgs> = {
  command: 'logs <container>',
  describe: "Show a container's output (stdout and stderr, from its log)",
  builder: (y) =>
    y
      .positional('container', { type: 'string', demandOption: true, describe: 'container name or ID' })
      .option('follow', { alias: 'f', type: 'boolean', default: false, describe: 'keep printing new output until the container stops' })
      .option('tail', { type: 'string', describe: 'only the last N lines ("all" = every line)' })
      .option('since', { type: 'string', describe: 'only output since a time (RFC 3339, Unix time) or a duration ago (10s, 5m, 1h)' })
      .option('until', { type: 'string', describe: 'only output before a time or a duration ago' })
      .option('timestamps', { alias: 't', type: 'boolean', default: false, describe: 'prefix each line with its time (RFC 3339)' })
      .example('$0 logs web', 'everything web has printed')
      .example('$0 logs -f --tail 10 web', 'the last 10 lines, then new ones as they come')
      .example('$0 logs --since 5m -t web', 'the last five minutes, with timestamps') as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { findContainer } = await import('../../container/records.js');
    const { containerPaths } = await import('../../container/paths.js');
    const { readLogs, parseTail, parseTimeFilter } = await import('../../container/logs.js');
    const { monitorAlive, readMonitorState } = await import('../../container/monitor.js');
    const container = await findContainer(stores, args.container);
    if (!container) throw new TsbuildError('NOT_FOUND', `container "${args.container}" not found`);
    const paths = containerPaths(stores, container.id);
    const abort = new AbortController();
    const onSignal = (): void => abort.abort();
    process.once('SIGINT', onSignal);
    try {
      await readLogs(
        paths,
        {
          follow: args.follow,
          tail: parseTail(args.tail),
          since: args.since === undefined ? undefined : parseTimeFilter(args.since),
          until: args.until === undefined ? undefined : parseTimeFilter(args.until),
          timestamps: args.timestamps,
          signal: abort.signal,
        },
        process.stdout,
        process.stderr,
        // The monitor runs as long as the container is meant to (including restarts).
        { isRunning: async () => monitorAlive(await readMonitorState(paths.monitorState)) },
      );
    } finally {
      process.removeListener('SIGINT', onSignal);
    }
  },
};
