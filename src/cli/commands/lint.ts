// tsbuild lint: BuildKit's build checks (`docker build --check`) without building; also what
// `bud --check` runs, and the warnings a normal `bud` prints before it builds.
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { CommandModule } from 'yargs';
import type { Stores } from '../../store/root.js';
import { storesFor, type GlobalArgs } from '../global.js';
import { collectBuildArgs } from '../build-flags.js';
import { checkContextDir, readContainerfile } from '../containerfile-input.js';

interface LintArgs extends GlobalArgs {
  context: string;
  file?: string;
  'build-arg': string[];
  target?: string;
  format: 'text' | 'json';
  ignorefile?: string;
}

export interface CheckInput {
  containerfile: { text: string; file: string };
  contextDir: string;
  buildArgs: ReadonlyMap<string, string>;
  target?: string;
  ignorefile?: string;
  /** Where base image configs come from; without it, only what the Containerfile says is known. */
  stores?: Stores;
}

async function lint(input: CheckInput, allStages: boolean) {
  const { lintContainerfile, localBaseImages } = await import('../../lint/index.js');
  const { loadIgnoreRules } = await import('../../build/context/index.js');
  return lintContainerfile({
    text: input.containerfile.text,
    file: input.containerfile.file,
    buildArgs: input.buildArgs,
    target: input.target,
    allStages,
    ignore: await loadIgnoreRules(input.contextDir, { ignorefile: input.ignorefile, containerfile: input.containerfile.file }),
    ...(input.stores && { baseImage: localBaseImages(input.stores) }),
  });
}

/**
 * The storage root for base image configs, if there is one that opens: checks never create a root,
 * and one they cannot read (not root, say) only means they know less.
 */
export async function existingStores(args: GlobalArgs): Promise<Stores | undefined> {
  if (!existsSync(args.root)) return undefined;
  return storesFor(args).catch(() => undefined);
}

/** `tsbuild lint` and `bud --check`: the report on stdout; throws (exit 1) on a parse error or with error=true. */
export async function runChecks(input: CheckInput, format: 'text' | 'json'): Promise<void> {
  const { formatJson, formatText, lintFailure } = await import('../../lint/index.js');
  const report = await lint(input, true);
  process.stdout.write(format === 'json' ? formatJson(report) : formatText(report));
  const failure = lintFailure(report);
  if (failure) throw failure;
}

/**
 * Before a normal build: each warning as a `[Warning]` line on stderr; throws only when the
 * Containerfile says `# check=error=true`. A parse error is left to the build, which reports it.
 */
export async function warnBeforeBuild(input: CheckInput): Promise<void> {
  const { formatBuildWarning, lintFailure } = await import('../../lint/index.js');
  // As in a BuildKit build, only the stages the build needs are walked (all are checked for syntax).
  const report = await lint(input, false);
  if (report.error) return;
  for (const warning of report.warnings) process.stderr.write(formatBuildWarning(warning));
  const failure = lintFailure(report);
  if (failure) throw failure;
}

export const lintCommand: CommandModule<GlobalArgs, LintArgs> = {
  command: 'lint [context]',
  describe: 'Check a Containerfile with the build checks of docker build --check (nothing is built)',
  builder: (y) =>
    y
      .positional('context', { type: 'string', default: '.', describe: 'build context directory (for .containerignore/.dockerignore), or the Containerfile itself' })
      .option('file', { alias: 'f', type: 'string', describe: 'Containerfile to check ("-" reads stdin); default: Containerfile or Dockerfile in the context' })
      .option('build-arg', { type: 'string', array: true, nargs: 1, default: [], describe: 'set a build argument, KEY=VALUE, as for bud (some checks depend on them)' })
      .option('target', { type: 'string', describe: 'check only the stages this stage needs (default: all stages)' })
      .option('format', { choices: ['text', 'json'] as const, default: 'text' as const, describe: 'output format' })
      .option('ignorefile', { type: 'string', describe: 'ignore file to use instead of .containerignore/.dockerignore' })
      .epilogue(
        [
          'Prints one line per warning, FILE:LINE RuleName: message (documentation URL), then a summary.',
          'Exits 0 when there are only warnings; 1 on a parse error, or on any warning when the',
          'Containerfile starts with "# check=error=true".',
          '',
          'Directive at the top of the Containerfile (options separated by ";"):',
          '  # check=skip=Rule1,Rule2   turn rules off (skip=all: every rule)',
          '  # check=error=true         fail on any warning (bud too)',
          '  # check=experimental=all   turn on experimental rules (CopyIgnoredFile, InvalidDefinitionDescription)',
          'The build argument BUILDKIT_DOCKERFILE_CHECK=<options> replaces the directive.',
        ].join('\n'),
      )
      .example('$0 lint', 'check ./Containerfile (or ./Dockerfile)')
      .example('$0 lint build/Dockerfile', 'check that file (its directory is the context)')
      .example('$0 lint -f build/Dockerfile --target runtime .', 'check the stages one target needs')
      .example('$0 lint --format json . | jq ".warnings[].ruleName"', 'machine-readable results')
      .example('cat Dockerfile | $0 lint -f -', 'check a Containerfile from stdin') as never,
  handler: async (args) => {
    // `tsbuild lint path/to/Dockerfile` (as linters are called) means that file in its directory.
    const named = args.file === undefined && (await stat(args.context).catch(() => undefined))?.isFile();
    const context = named ? path.dirname(args.context) : args.context;
    const file = named ? args.context : args.file;
    await checkContextDir(context);
    const containerfile = await readContainerfile(context, file);
    const stores = await existingStores(args);
    await runChecks(
      {
        containerfile,
        contextDir: path.resolve(context),
        buildArgs: await collectBuildArgs([], args['build-arg']),
        target: args.target,
        ignorefile: args.ignorefile,
        ...(stores && { stores }),
      },
      args.format,
    );
  },
};
