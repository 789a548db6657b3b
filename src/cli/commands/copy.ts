import type { Argv, CommandModule } from 'yargs';
import { TsbuildError } from '../../errors.js';
import { storesFor, type GlobalArgs } from '../global.js';
import { withAbortOnSignals } from '../signals.js';
import { WC_EPILOGUE } from './wc-shared.js';

interface CopyArgs extends GlobalArgs {
  container: string;
  paths: string[];
  chown?: string;
  chmod?: string;
  from?: string;
  quiet: boolean;
}

function copyBuilder(y: Argv<GlobalArgs>, verb: 'copy' | 'add'): Argv<CopyArgs> {
  const built = y
    .positional('container', { type: 'string', demandOption: true, describe: 'working container name or ID' })
    .positional('paths', { type: 'string', array: true, demandOption: true, describe: 'SRC... DEST (one path alone: copied into the working directory)' })
    .option('chown', { type: 'string', describe: 'owner of the copied files, user[:group] (names from the container\'s /etc/passwd)' })
    .option('chmod', { type: 'string', describe: 'mode of the copied files, octal or symbolic' })
    .option('from', { type: 'string', describe: 'read the sources from this container or image instead of the host' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'accepted for buildah compatibility (nothing is printed anyway)' });
  const examples =
    verb === 'copy'
      ? built
          .example('$0 copy app-working-container ./hello /hello', 'copy a host file into the container')
          .example('$0 copy --chown 1000:1000 --chmod 0755 app-working-container bin/ /usr/local/bin/', 'a directory\'s contents, owned by 1000')
          .example('$0 copy --from builder-working-container app-working-container /out/app /app', 'from another container')
      : built
          .example('$0 add app-working-container rootfs.tar.gz /', 'unpack a local archive into the container')
          .example('$0 add app-working-container https://example.com/file.txt /opt/', 'download a file into it');
  return examples.epilogue(WC_EPILOGUE) as never;
}

async function copyHandler(args: CopyArgs, instruction: 'COPY' | 'ADD'): Promise<void> {
  const paths = args.paths.map(String);
  const verb = instruction.toLowerCase();
  if (paths.length === 0) throw new TsbuildError('INVALID_ARGUMENT', `${verb}: no source given (${verb} CONTAINER SRC... DEST)`);
  const sources = paths.length === 1 ? paths : paths.slice(0, -1);
  const dest = paths.length === 1 ? './' : paths[paths.length - 1]!;
  const stores = await storesFor(args);
  const { copyIntoContainer } = await import('../../working/copy.js');
  await withAbortOnSignals((signal) =>
    copyIntoContainer(stores, { instruction, container: args.container, sources, dest, chown: args.chown, chmod: args.chmod, from: args.from, signal }),
  );
}

export const copyCommand: CommandModule<GlobalArgs, CopyArgs> = {
  command: 'copy <container> <paths..>',
  describe: 'Copy files from the host (or --from a container or image) into a working container (buildah copy)',
  builder: (y) => copyBuilder(y, 'copy'),
  handler: (args) => copyHandler(args, 'COPY'),
};

export const addCommand: CommandModule<GlobalArgs, CopyArgs> = {
  command: 'add <container> <paths..>',
  describe: 'Like copy, and also URLs and local tar archives (unpacked) (buildah add)',
  builder: (y) => copyBuilder(y, 'add'),
  handler: (args) => copyHandler(args, 'ADD'),
};
