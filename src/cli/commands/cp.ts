// `tsbuild cp`: files between the host and a container (docker/podman cp).
import type { CommandModule } from 'yargs';
import { storesFor, type GlobalArgs } from '../global.js';

interface CpArgs extends GlobalArgs {
  src: string | boolean;
  dest: string | boolean;
  archive: boolean;
  'follow-link': boolean;
}

// yargs turns a lone "-" positional into '' (or `true`): that is the tar stream.
const location = (value: string | boolean): string => (value === true || value === '' ? '-' : String(value));

export const cpCommand: CommandModule<GlobalArgs, CpArgs> = {
  command: 'cp <src> <dest>',
  describe: 'Copy files between a container and the host (CONTAINER:PATH on one side; - for a tar stream)',
  builder: (y) =>
    y
      .positional('src', { type: 'string', demandOption: true, describe: 'CONTAINER:PATH, a host path, or - (a tar on stdin)' })
      .positional('dest', { type: 'string', demandOption: true, describe: 'CONTAINER:PATH, a host path, or - (a tar on stdout)' })
      .option('archive', { alias: 'a', type: 'boolean', default: false, describe: 'keep the source owners (default: root in the container, you on the host)' })
      .option('follow-link', { alias: 'L', type: 'boolean', default: false, describe: 'follow a symlink named as SRC' })
      .example('$0 cp ./site web:/srv/www', 'copy a directory into the container web')
      .example('$0 cp ./site/. web:/srv/www', 'copy the directory\'s contents into /srv/www')
      .example('$0 cp web:/etc/hosts .', 'copy a file out of the container')
      .example('$0 cp web:/var/log - | tar -t', 'a tar of /var/log on stdout') as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { copy } = await import('../../container/cp.js');
    await copy(stores, { source: location(args.src), destination: location(args.dest), archive: args.archive, followLink: args['follow-link'] });
  },
};
