// `tsbuild container prune`: remove every container that is not running (podman container prune).
import { createInterface } from 'node:readline/promises';
import type { CommandModule } from 'yargs';
import { TsbuildError } from '../../errors.js';
import { storesFor, type GlobalArgs } from '../global.js';

interface PruneArgs extends GlobalArgs {
  force: boolean;
}

export const containerPruneCommand: CommandModule<GlobalArgs, PruneArgs> = {
  command: 'prune',
  describe: 'Remove all containers that are not running (created or exited); working containers are kept',
  builder: (y) =>
    y
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'do not ask for confirmation' })
      .example('$0 container prune -f', 'remove every stopped container and print their IDs') as never,
  handler: async (args) => {
    if (!args.force && !(await confirm())) return;
    const stores = await storesFor(args);
    const { pruneContainers } = await import('../../container/prune.js');
    const result = await pruneContainers(stores);
    for (const id of result.removed) process.stdout.write(`${id}\n`);
    for (const f of result.failed) process.stderr.write(`Error: cannot remove container ${f.name}: ${f.error.message}\n`);
    if (result.failed.length > 0) {
      throw new TsbuildError('RUNTIME', `${result.failed.length} container(s) could not be removed`, { exitCode: 125 });
    }
  },
};

/** podman's prompt; anything but y/yes (or no terminal answer at all) keeps everything. */
async function confirm(): Promise<boolean> {
  process.stderr.write('WARNING! This will remove all non running containers.\n');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question('Are you sure you want to continue? [y/N] ').catch(() => '');
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
