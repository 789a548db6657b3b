// Rewrites of the raw argv before yargs reads it: where a container's own command starts, bud's
// `-` context, and the flag spellings yargs cannot take as they are (buildah's optional-value
// `--pull`, buildx's `--no-cache-filter STAGE`).
import { CONTAINER_VALUE_OPTIONS } from './container-flags.js';

const GLOBAL_VALUE_OPTIONS = ['--root', '--log-level'];

/** Index of the command word: the first argument that is neither a global option nor its value. */
export function commandIndex(argv: readonly string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return -1;
    if (!arg.startsWith('-')) return i;
    if (GLOBAL_VALUE_OPTIONS.includes(arg)) i++;
  }
  return -1;
}

/**
 * Whether argv asks for the version and nothing else (global options aside): main answers that
 * without yargs' command table, which without a command word loads every command module.
 */
export function asksOnlyVersion(argv: readonly string[]): boolean {
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (GLOBAL_VALUE_OPTIONS.includes(arg)) i++;
    else if (!GLOBAL_VALUE_OPTIONS.some((o) => arg.startsWith(`${o}=`))) rest.push(arg);
  }
  return rest.length === 1 && rest[0] === '--version';
}

interface OperandCommand {
  /** The command words, e.g. ['run'] or ['container', 'run']. */
  words: string[];
  /** Options (ours and global) that take a separate value. */
  valueOptions: ReadonlySet<string>;
}

const RUN_VALUE_OPTIONS = new Set([...CONTAINER_VALUE_OPTIONS, ...GLOBAL_VALUE_OPTIONS, '--creds', '--authfile', '--cert-dir']);
const EXEC_VALUE_OPTIONS = new Set(['-e', '--env', '--env-file', '-u', '--user', '-w', '--workdir', ...GLOBAL_VALUE_OPTIONS]);
const WC_RUN_VALUE_OPTIONS = new Set(['--user', '-u', '--workingdir', '--env', '-e', '--volume', '-v', '--network', '--net', ...GLOBAL_VALUE_OPTIONS]);

// Commands whose first operand (an image or a container) is followed by the container's command.
const OPERAND_COMMANDS: OperandCommand[] = [
  { words: ['run'], valueOptions: RUN_VALUE_OPTIONS },
  { words: ['create'], valueOptions: RUN_VALUE_OPTIONS },
  { words: ['container', 'run'], valueOptions: RUN_VALUE_OPTIONS },
  { words: ['container', 'create'], valueOptions: RUN_VALUE_OPTIONS },
  { words: ['exec'], valueOptions: EXEC_VALUE_OPTIONS },
  { words: ['container', 'exec'], valueOptions: EXEC_VALUE_OPTIONS },
  { words: ['wc', 'run'], valueOptions: WC_RUN_VALUE_OPTIONS },
];

/**
 * Everything after the operand of `run IMAGE CMD...`, `exec CONTAINER CMD...` or `wc run CONTAINER
 * CMD...` belongs to the container, so a `--` goes after the operand: `run img ls -l` must not read
 * -l as ours (docker, podman and buildah behave this way).
 */
export function separateContainerCommand(argv: readonly string[]): string[] {
  const at = commandIndex(argv);
  if (at < 0 || argv.includes('--')) return [...argv];
  const command = OPERAND_COMMANDS.filter((c) => c.words.every((w, i) => argv[at + i] === w)).sort((a, b) => b.words.length - a.words.length)[0];
  if (!command) return [...argv];
  for (let i = at + command.words.length; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith('-')) {
      if (command.valueOptions.has(arg)) i++;
      // `--pull` takes a value only when one of the policy words follows (see normalizePullFlag).
      else if (arg === '--pull' && POLICY_WORDS.has((argv[i + 1] ?? '').toLowerCase())) i++;
      continue;
    }
    return [...argv.slice(0, i + 1), '--', ...argv.slice(i + 1)];
  }
  return [...argv];
}

/**
 * Rewrites single flags before a `--` (nothing after it is ours): `rewrite` returns the flag's
 * replacement and whether it took the next argument as its value, or undefined to keep it.
 */
function rewriteFlags(argv: readonly string[], rewrite: (arg: string, next: string | undefined) => [string, boolean] | undefined): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const replaced = rewrite(arg, argv[i + 1]);
    if (replaced === undefined) {
      out.push(arg);
      continue;
    }
    out.push(replaced[0]);
    if (replaced[1]) i++;
  }
  return out;
}

export const POLICY_WORDS = new Set(['always', 'missing', 'never', 'newer', 'true', 'false']);

/**
 * buildah's `--pull` takes an optional value: `--pull` alone means always, `--pull=never` a policy.
 * yargs cannot express that (it would take the next argument, e.g. the build context, as the
 * value), so a bare `--pull` becomes `--pull=always`, and `--pull WORD` `--pull=WORD` when WORD is
 * a policy.
 */
export function normalizePullFlag(argv: readonly string[]): string[] {
  return rewriteFlags(argv, (arg, next) => {
    if (arg !== '--pull') return undefined;
    return next !== undefined && POLICY_WORDS.has(next.toLowerCase()) ? [`--pull=${next}`, true] : ['--pull=always', false];
  });
}

/**
 * yargs reads `--no-cache-filter STAGE` as the negation of an option "cache-filter" (and STAGE as the
 * context); the `=` form reaches the option by its own name, so the spaced form is joined.
 */
export function joinNoCacheFilter(argv: readonly string[]): string[] {
  return rewriteFlags(argv, (arg, next) => (arg === '--no-cache-filter' && next !== undefined ? [`${arg}=${next}`, true] : undefined));
}

const BUD_WORDS = new Set(['bud', 'build', 'build-using-dockerfile']);
// bud's options whose value may be `-` (stdin or stdout), so a `-` after them is not the context.
const BUD_DASH_OPTIONS = new Set(['-f', '--file', '-o', '--output']);

/**
 * `bud [options] -` (the context on stdin, as docker build takes it): yargs drops a lone `-`
 * argument, so it travels as the hidden --stdin-context flag instead.
 */
export function markStdinContext(argv: readonly string[]): string[] {
  const bud = commandIndex(argv);
  const last = argv.length - 1;
  if (bud < 0 || !BUD_WORDS.has(argv[bud]!) || last <= bud || argv[last] !== '-' || BUD_DASH_OPTIONS.has(argv[last - 1]!)) return [...argv];
  return [...argv.slice(0, last), '--stdin-context'];
}

/** All rewrites, in the order they must run. */
export function rewriteArgv(raw: readonly string[]): string[] {
  return markStdinContext(joinNoCacheFilter(normalizePullFlag(separateContainerCommand(raw))));
}
