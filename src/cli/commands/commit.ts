import type { CommandModule } from 'yargs';
import { storesFor, type GlobalArgs } from '../global.js';
import { WC_EPILOGUE, strings } from './wc-shared.js';

interface CommitArgs extends GlobalArgs {
  container: string;
  image?: string;
  format: 'oci' | 'docker';
  message?: string;
  author?: string;
  change?: string[];
  quiet: boolean;
  rm: boolean;
  squash: boolean;
}

export const commitCommand: CommandModule<GlobalArgs, CommitArgs> = {
  command: 'commit <container> [image]',
  describe: 'Create an image from a container\'s changes: a working container (buildah commit) or a run container (podman commit)',
  builder: (y) =>
    y
      .positional('container', { type: 'string', demandOption: true, describe: 'container name or ID (working or run container; may be running)' })
      .positional('image', { type: 'string', describe: 'name of the new image (default: unnamed; its ID is printed)' })
      .option('format', { alias: 'f', choices: ['oci', 'docker'] as const, default: 'oci' as const, describe: 'image format' })
      .option('message', { alias: 'm', type: 'string', describe: 'commit message (the history entry\'s comment)' })
      .option('author', { alias: 'a', type: 'string', describe: 'the image author' })
      .option('change', { alias: 'c', type: 'string', array: true, nargs: 1, describe: 'apply a Containerfile instruction: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'print only the image ID (nothing else is printed anyway)' })
      .option('rm', { type: 'boolean', default: false, describe: 'remove the working container after committing it' })
      .option('squash', { type: 'boolean', default: false, describe: 'the whole filesystem as a single layer' })
      .example('$0 commit app-working-container myapp:1', 'commit a working container as myapp:1; prints the image ID')
      .example('$0 commit -c \'CMD ["httpd","-f"]\' -m "add httpd" web web:snapshot', 'commit a (running) run container with a new CMD')
      .example('$0 commit --rm --squash -f docker app-working-container myapp', 'one layer, Docker format, container removed')
      .epilogue(WC_EPILOGUE) as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { commitContainer } = await import('../../working/commit.js');
    const image = await commitContainer(stores, {
      container: args.container,
      image: args.image,
      format: args.format,
      message: args.message,
      author: args.author,
      changes: strings(args.change),
      squash: args.squash,
      remove: args.rm,
    });
    process.stdout.write(`${image.id.replace(/^sha256:/, '')}\n`);
  },
};
