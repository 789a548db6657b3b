// `tsbuild system ...`: store-wide maintenance (podman's `system` command). The command is built
// from SUBCOMMANDS, so a subcommand living in another module is one more entry there.
import type { Argv, CommandModule } from 'yargs';
import { TsbuildError } from '../../errors.js';
import { storesFor, type GlobalArgs } from '../global.js';

interface CheckArgs extends GlobalArgs {
  quick: boolean;
  repair: boolean;
  force: boolean;
}

export const systemCheckCommand: CommandModule<GlobalArgs, CheckArgs> = {
  command: 'check',
  describe: 'Check the store for damage and leftovers of crashed processes; --repair removes them',
  builder: (y) =>
    y
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'with --repair, also remove containers whose image is gone (their changes are lost)' })
      .option('quick', { alias: 'q', type: 'boolean', default: false, describe: 'skip verifying the digest of every blob (much faster on big stores)' })
      .option('repair', { alias: 'r', type: 'boolean', default: false, describe: 'remove what is broken or orphaned (damaged images, corrupt blobs, leftovers), then check again' })
      .example('$0 system check', 'verify every blob, image, snapshot, cache entry and container record')
      .example('$0 system check --quick', 'the same without re-hashing blobs')
      .example('$0 system check --repair', 'fix what was found; exits 0 when the store is consistent afterwards')
      .example('$0 system check --repair --force', 'and remove containers that cannot start again because their image is gone') as never,
  handler: async (args) => {
    // Opening the store runs start-up recovery; listing containers settles those whose monitor died.
    const stores = await storesFor(args);
    await (await import('../../container/records.js')).listContainers(stores);
    const { checkStore, describeCounts } = await import('../../store/check.js');
    let report = await checkStore(stores, { quick: args.quick });
    for (const p of report.problems) process.stdout.write(`${p.line}\n`);
    if (report.problems.length > 0 && args.repair) {
      const { repairStore } = await import('../../store/repair.js');
      for (const line of await repairStore(stores, report.problems, { force: args.force })) process.stdout.write(`repaired: ${line}\n`);
      report = await checkStore(stores, { quick: args.quick });
      for (const p of report.problems) process.stdout.write(`${p.line}\n`);
    }
    if (report.problems.length > 0) {
      throw new TsbuildError('IO', `the store has ${report.problems.length} problem${report.problems.length === 1 ? '' : 's'}`, {
        exitCode: 1,
        hint: !args.repair
          ? 'run "tsbuild system check --repair" to remove what is broken'
          : !args.force && report.problems.some((p) => p.needsForce)
            ? 'containers whose image is gone are removed only with --force'
            : undefined,
      });
    }
    process.stdout.write(`store is consistent (${describeCounts(report.counts)})\n`);
  },
};

/** Every `system` subcommand; one from another module is one more entry (and its import). */
const SUBCOMMANDS: CommandModule<GlobalArgs, never>[] = [systemCheckCommand as never];

export const systemCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'system',
  describe: 'Manage the storage root (check)',
  builder: (y: Argv<GlobalArgs>) =>
    SUBCOMMANDS.reduce((acc, sub) => acc.command(sub), y)
      .demandCommand(1, 'Error: a system command is required (see tsbuild system --help)')
      .example('$0 system check', 'verify the store') as never,
  handler: () => undefined,
};
