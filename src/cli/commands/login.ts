// tsbuild login: check credentials against a registry, then save them in the auth file (0600).
import { createInterface } from 'node:readline';
import type { CommandModule } from 'yargs';
import { TsbuildError } from '../../errors.js';
import { type GlobalArgs } from '../global.js';
import { registryOptions, type RegistryArgs } from '../registry-flags.js';
import { withAbortOnSignals } from '../signals.js';

interface LoginArgs extends GlobalArgs, RegistryArgs {
  registry: string;
  username?: string;
  password?: string;
  'password-stdin': boolean;
}

export const loginCommand: CommandModule<GlobalArgs, LoginArgs> = {
  command: 'login <registry>',
  describe: 'Log in to a registry: check the credentials, then save them in the auth file',
  builder: (y) =>
    registryOptions(
      y
        .positional('registry', { type: 'string', demandOption: true, describe: 'registry host[:port] (optionally /namespace)' })
        .option('username', { alias: 'u', type: 'string', describe: 'user name' })
        .option('password', { alias: 'p', type: 'string', describe: 'password (visible in the process list: prefer --password-stdin)' })
        .option('password-stdin', { type: 'boolean', default: false, describe: 'read the password from stdin' }),
      { creds: false },
    )
      .example('printf %s "$PASSWORD" | $0 login -u ci --password-stdin registry.example.com', 'log in without the password on the command line')
      .example('$0 login --authfile ./auth.json --tls-verify=false -u me -p secret 127.0.0.1:5000', 'a private auth file and a plain-HTTP registry') as never,
  handler: async (args) => {
    if (args.password !== undefined && args['password-stdin']) {
      throw new TsbuildError('INVALID_ARGUMENT', '--password and --password-stdin cannot be used together');
    }
    const username = args.username ?? (await prompt('Username: ', false));
    const password = args['password-stdin'] ? await readStdinPassword() : (args.password ?? (await prompt('Password: ', true)));
    if (!username) throw new TsbuildError('INVALID_ARGUMENT', 'login: a username is required (-u)');
    if (!password) throw new TsbuildError('INVALID_ARGUMENT', 'login: a password is required (-p, --password-stdin)');
    const { createLogger } = await import('../../log.js');
    const { login } = await import('../../remote/index.js');
    const logger = createLogger(args['log-level']);
    await withAbortOnSignals((signal) =>
      login(args.registry, { username, password }, { authfile: args.authfile, tlsVerify: args['tls-verify'], certDir: args['cert-dir'], logger, signal }),
    );
    process.stdout.write('Login Succeeded!\n');
  },
};

async function readStdinPassword(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  // docker and podman strip the one trailing newline `echo` adds, nothing else.
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Asks on the terminal; without one there is nobody to ask. The password is not echoed. */
async function prompt(question: string, secret: boolean): Promise<string> {
  if (!process.stdin.isTTY) {
    throw new TsbuildError('INVALID_ARGUMENT', `login: ${secret ? 'a password (-p or --password-stdin)' : 'a username (-u)'} is required when stdin is not a terminal`);
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  if (secret) {
    // Print the question, then swallow the echo of what is typed.
    const output = rl as unknown as { _writeToOutput?: (s: string) => void };
    process.stderr.write(question);
    output._writeToOutput = () => undefined;
  }
  try {
    return await new Promise<string>((resolve) => rl.question(secret ? '' : question, resolve));
  } finally {
    rl.close();
    if (secret) process.stderr.write('\n');
  }
}
