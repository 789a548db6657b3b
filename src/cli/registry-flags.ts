// The registry flags pull, push, login, bud and run share, with podman's names and meanings, and
// the rewriting of buildah's optional-value `--pull` so yargs can parse it.
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

export const POLICY_WORDS = new Set(['always', 'missing', 'never', 'newer', 'true', 'false']);

/**
 * buildah's `--pull` takes an optional value: `--pull` alone means always, `--pull=never` a policy.
 * yargs cannot express that (it would take the next argument, e.g. the build context, as the
 * value), so a bare `--pull` becomes `--pull=always`, and `--pull WORD` `--pull=WORD` when WORD is
 * a policy. Nothing after `--` is touched.
 */
export function normalizePullFlag(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (arg !== '--pull') {
      out.push(arg);
      continue;
    }
    const next = argv[i + 1];
    if (next !== undefined && POLICY_WORDS.has(next.toLowerCase())) {
      out.push(`--pull=${next}`);
      i++;
    } else {
      out.push('--pull=always');
    }
  }
  return out;
}
