// tsbuild logout: remove saved credentials for a registry, or all of them.
import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../global.js';

interface LogoutArgs extends GlobalArgs {
  registry?: string;
  authfile?: string;
  all: boolean;
}

export const logoutCommand: CommandModule<GlobalArgs, LogoutArgs> = {
  command: 'logout [registry]',
  describe: 'Remove saved credentials for a registry',
  builder: (y) =>
    y
      .positional('registry', { type: 'string', describe: 'registry host[:port] (optionally /namespace)' })
      .option('authfile', { type: 'string', describe: 'auth file to edit; default $REGISTRY_AUTH_FILE or ${XDG_RUNTIME_DIR}/containers/auth.json' })
      .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'remove the credentials of every registry' })
      .example('$0 logout registry.example.com', 'forget the credentials for one registry')
      .example('$0 logout --all', 'forget them all') as never,
  handler: async (args) => {
    const { logout } = await import('../../remote/login.js');
    await logout(args.registry, { authfile: args.authfile, all: args.all });
    process.stdout.write(args.all ? 'Removed login credentials for all registries\n' : `Removed login credentials for ${args.registry}\n`);
  },
};
