// `tsbuild system ...`: store-wide maintenance (podman's `system` command): check here, prune
// and df in system-gc.ts.
import type { CommandModule } from 'yargs';
import { TsbuildError } from '../../errors.js';
import { storesFor, type GlobalArgs } from '../global.js';
import { systemDfCommand, systemPruneCommand } from './system-gc.js';
import { commandGroup } from '../command-group.js';

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
    const [{ checkStore, describeCounts }, { acquireGcLock }] = await Promise.all([import('../../store/check.js'), import('../../store/lease.js')]);
    // The collector's lock: no prune removes records and blobs half-way through what is being
    // checked, and nothing leased by a running build (store/lease.ts) is added meanwhile.
    const lock = await acquireGcLock(stores.layout.root);
    let report;
    try {
      report = await checkStore(stores, { quick: args.quick });
      for (const p of report.problems) process.stdout.write(`${p.line}\n`);
      if (report.problems.length > 0 && args.repair) {
        const { repairStore } = await import('../../store/repair.js');
        for (const line of await repairStore(stores, report.problems, { force: args.force })) process.stdout.write(`repaired: ${line}\n`);
        report = await checkStore(stores, { quick: args.quick });
        for (const p of report.problems) process.stdout.write(`${p.line}\n`);
      }
    } finally {
      await lock.release();
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

export const systemCommand = commandGroup({
  name: 'system',
  describe: 'Manage the storage root (check, prune, df)',
  subcommands: [systemCheckCommand, systemPruneCommand, systemDfCommand] as never[],
  examples: [
    ['$0 system check', 'verify the store'],
    ['$0 system df', 'space by kind'],
    ['$0 system prune -a', 'remove everything no container uses'],
  ],
});
