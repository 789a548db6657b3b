// The registry flags pull, push, login, bud and run share, with podman's names and meanings (the
// rewriting of buildah's optional-value `--pull` is in argv.ts).
import type { Argv } from 'yargs';
import type { RegistryFlags } from '../remote/connect.js';

export interface RegistryArgs {
  creds?: string;
  authfile?: string;
  'tls-verify'?: boolean;
  'cert-dir'?: string;
}

export function registryOptions<T>(y: Argv<T>, options: { creds?: boolean } = {}): Argv<T & RegistryArgs> {
  let out = y
    .option('authfile', { type: 'string', describe: 'auth file to read (and, for login/logout, write); default $REGISTRY_AUTH_FILE or ${XDG_RUNTIME_DIR}/containers/auth.json' })
    .option('tls-verify', { type: 'boolean', describe: 'require HTTPS and verify certificates (--tls-verify=false allows plain HTTP and unverified TLS); default from registries.conf' })
    .option('cert-dir', { type: 'string', describe: 'directory with ca.crt, client.cert and client.key for the registry' });
  if (options.creds !== false) {
    out = out.option('creds', { type: 'string', describe: 'USERNAME:PASSWORD for the registry (instead of the auth file)' });
  }
  return out as Argv<T & RegistryArgs>;
}

export function registryFlags(args: RegistryArgs): RegistryFlags {
  return { creds: args.creds, authfile: args.authfile, tlsVerify: args['tls-verify'], certDir: args['cert-dir'] };
}
