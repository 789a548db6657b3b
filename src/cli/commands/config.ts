import type { CommandModule } from 'yargs';
import { storesFor, type GlobalArgs } from '../global.js';
import { WC_EPILOGUE, strings } from './wc-shared.js';

interface ConfigArgs extends GlobalArgs {
  container: string;
  env?: string[];
  label?: string[];
  cmd?: string;
  entrypoint?: string;
  port?: string[];
  user?: string;
  workingdir?: string;
  volume?: string[];
  author?: string;
  'stop-signal'?: string;
  shell?: string;
  'created-by'?: string;
  comment?: string;
}

export const configCommand: CommandModule<GlobalArgs, ConfigArgs> = {
  command: 'config <container>',
  describe: 'Change the image configuration a working container will commit (buildah config)',
  builder: (y) =>
    y
      .positional('container', { type: 'string', demandOption: true, describe: 'working container name or ID' })
      .option('env', { alias: 'e', type: 'string', array: true, nargs: 1, describe: 'set NAME=VALUE (NAME alone: our value; NAME-: remove)' })
      .option('label', { alias: 'l', type: 'string', array: true, nargs: 1, describe: 'set a label key=value (key-: remove)' })
      .option('cmd', { type: 'string', describe: 'default command: a JSON array or a command line (split into words)' })
      .option('entrypoint', { type: 'string', describe: 'entrypoint: a JSON array, or a string run with /bin/sh -c' })
      .option('port', { alias: 'p', type: 'string', array: true, nargs: 1, describe: 'expose a port, 80 or 80/udp (80-: remove)' })
      .option('user', { alias: 'u', type: 'string', describe: 'user[:group] commands run as' })
      .option('workingdir', { type: 'string', describe: 'working directory (absolute)' })
      .option('volume', { alias: 'v', type: 'string', array: true, nargs: 1, describe: 'declare a volume path (/path-: remove)' })
      .option('author', { type: 'string', describe: 'the image author' })
      .option('stop-signal', { type: 'string', describe: 'signal that stops the container, e.g. SIGINT' })
      .option('shell', { type: 'string', describe: 'shell for shell-form commands: a JSON array or a command line' })
      .option('created-by', { type: 'string', describe: 'the "created by" text of the next commit\'s history entry' })
      .option('comment', { type: 'string', describe: 'the comment of the next commit\'s history entry' })
      .example('$0 config --cmd \'["cat","/hello"]\' --env A=1 --label x=y app-working-container', 'command, variable and label')
      .example('$0 config --entrypoint "/app/start" --port 8080 --user 1000 app-working-container', 'entrypoint (via /bin/sh -c), port, user')
      .example('$0 config --env A- --label x- app-working-container', 'remove a variable and a label')
      .epilogue(WC_EPILOGUE) as never,
  handler: async (args) => {
    const stores = await storesFor(args);
    const { applyConfigEdits, savePendingHistory } = await import('../../working/config.js');
    const { editWorkingContainer } = await import('../../working/records.js');
    const edits = {
      env: strings(args.env),
      labels: strings(args.label),
      cmd: args.cmd,
      entrypoint: args.entrypoint,
      ports: strings(args.port),
      user: args.user,
      workingDir: args.workingdir,
      volumes: strings(args.volume),
      author: args.author,
      stopSignal: args['stop-signal'],
      shell: args.shell,
      createdBy: args['created-by'],
      comment: args.comment,
    };
    const record = await editWorkingContainer(stores, args.container, (config) => applyConfigEdits(config, edits));
    await savePendingHistory(stores, record.id, edits);
  },
};
