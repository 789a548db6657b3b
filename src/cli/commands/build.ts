// tsbuild bud / build: flags and names as buildah and podman build have them.
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CommandModule } from 'yargs';
import { TsbuildError } from '../../errors.js';
import { storesFor, type GlobalArgs } from '../global.js';
import { registryFlags, registryOptions, type RegistryArgs } from '../registry-flags.js';
import { withAbortOnSignals } from '../signals.js';
import { buildEpoch, collectBuildArgs, outputTarget, parseCacheTtl, parseEnvFlags, parseJobs } from '../build-flags.js';
import { checkContextDir, readContainerfile } from '../containerfile-input.js';
import { runContainerFlagArgs, runContainerOptions, type RunContainerArgs } from '../run-container-flags.js';
import { normalizeImageName } from '../../image/names.js';
import { afterBuild, compatOptions, compatSettings, resourceOptions, type CompatArgs, type ResourceArgs } from '../bud-compat.js';

interface BuildArgs extends GlobalArgs, RegistryArgs, CompatArgs, ResourceArgs, RunContainerArgs {
  pull: string;
  context: string;
  file?: string;
  tag: string[];
  'build-arg': string[];
  target?: string;
  format: 'oci' | 'docker';
  layers: boolean;
  cache: boolean;
  iidfile?: string;
  quiet: boolean;
  network: string;
  label: string[];
  ignorefile?: string;
  'build-arg-file': string[];
  timestamp?: number;
  annotation: string[];
  squash: boolean;
  'squash-all': boolean;
  env: string[];
  unsetenv: string[];
  unsetlabel: string[];
  platform?: string;
  jobs?: number;
  'cache-from': string[];
  'cache-to': string[];
  'cache-ttl'?: string;
  output?: string | string[];
  check: boolean;
  'build-context': string[];
  'stdin-context': boolean;
}

export const buildCommand: CommandModule<GlobalArgs, BuildArgs> = {
  command: 'bud [context]',
  aliases: ['build', 'build-using-dockerfile'],
  describe: 'Build an image from a Containerfile',
  builder: (y) =>
    runContainerOptions(resourceOptions(compatOptions(registryOptions(y))))
      .positional('context', { type: 'string', default: '.', describe: 'build context: a directory, a git URL (repo.git#ref:subdir, git://...), a tarball URL, or - (a tar or a Containerfile on stdin)' })
      .option('file', { alias: 'f', type: 'string', describe: 'Containerfile to use ("-" reads stdin); default: Containerfile or Dockerfile in the context' })
      .option('tag', { alias: 't', type: 'string', array: true, nargs: 1, default: [], describe: 'name the image (repeatable)' })
      .option('build-arg', { type: 'string', array: true, nargs: 1, default: [], describe: 'set a build argument, KEY=VALUE (KEY alone takes it from the environment)' })
      .option('target', { type: 'string', describe: 'build the stage of this name and what it needs, nothing else' })
      .option('format', { choices: ['oci', 'docker'] as const, default: (process.env.BUILDAH_FORMAT as 'oci' | 'docker' | undefined) ?? 'oci', describe: 'image manifest and config format' })
      .option('layers', { type: 'boolean', default: true, describe: 'cache intermediate layers (--layers=false to turn off)' })
      // Declared as "cache": yargs reads --no-cache as the negation of an option named cache, and
      // strict mode rejects it when only "no-cache" exists.
      .option('cache', { type: 'boolean', default: true, describe: 'use and fill the build cache (--no-cache: neither)' })
      .option('iidfile', { type: 'string', describe: 'write the image ID to this file' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'print only the image ID (RUN output goes to stderr)' })
      .option('network', { alias: 'net', type: 'string', default: 'host', describe: 'network for RUN steps: host, none, private or bridge (a namespace of its own on the default network tsbuild, per RUN), or a network name' })
      .option('label', { type: 'string', array: true, nargs: 1, default: [], describe: 'add a label to the image, KEY=VALUE (repeatable)' })
      .option('ignorefile', { type: 'string', describe: 'ignore file to use instead of .containerignore/.dockerignore' })
      .option('build-arg-file', { type: 'string', array: true, nargs: 1, default: [], describe: 'read build arguments from a file of KEY=VALUE lines (# comments); --build-arg wins' })
      .option('timestamp', { type: 'number', describe: 'reproducible build: created dates set to these seconds since the epoch, newer file mtimes clamped to it (also SOURCE_DATE_EPOCH)' })
      .option('annotation', { type: 'string', array: true, nargs: 1, default: [], describe: 'add an annotation to the image manifest, KEY=VALUE (repeatable; OCI format)' })
      .option('squash', { type: 'boolean', default: false, describe: 'commit the new layers of the final stage as one layer on top of its base image' })
      .option('squash-all', { type: 'boolean', default: false, describe: 'commit the whole image as one layer' })
      .option('env', { type: 'string', array: true, nargs: 1, default: [], describe: 'set an environment variable in the image, KEY=VALUE (KEY alone: from the environment)' })
      .option('unsetenv', { type: 'string', array: true, nargs: 1, default: [], describe: 'remove an environment variable from the image (also an inherited one)' })
      .option('unsetlabel', { type: 'string', array: true, nargs: 1, default: [], describe: 'remove a label from the image (also an inherited one)' })
      .option('platform', { type: 'string', describe: 'os/arch[/variant] to build for; only the host platform can be built' })
      .option('jobs', { type: 'number', describe: 'stages to build at once (default and 0: every stage that is ready, as BuildKit; 1: one after another, as buildah)' })
      .option('stdin-context', { type: 'boolean', default: false, hidden: true, describe: 'the context is a tar on stdin (what a trailing `-` becomes)' })
      .option('build-context', { type: 'string', array: true, nargs: 1, default: [], describe: 'a named context, name=DIR | name=GIT-URL | name=docker-image://REF | name=oci-layout://DIR[:tag|@sha256:...]; replaces the stage or image of that name (repeatable)' })
      .option('cache-from', { type: 'string', array: true, nargs: 1, default: [], describe: 'registry repository to look cached steps up in on a local miss (repeatable)' })
      .option('cache-to', { type: 'string', array: true, nargs: 1, default: [], describe: 'registry repository to push cached steps to, tagged with their cache keys (repeatable)' })
      .option('cache-ttl', { type: 'string', describe: 'use only cached steps made less than this long ago (Go duration, e.g. 12h; 0 is --no-cache)' })
      .option('output', { alias: 'o', type: 'string', describe: 'also export the final root filesystem: type=local,dest=DIR, type=tar,dest=FILE (- is stdout), or just DIR' })
      .option('check', { type: 'boolean', default: false, describe: 'run the build checks (as tsbuild lint) and do not build' })
      .option('pull', { type: 'string', default: 'missing', describe: 'pull FROM and COPY --from images: always (also --pull alone), missing, never, or newer (when the registry has another digest)' })
      .example('$0 bud -t hello .', 'build ./Containerfile as localhost/hello:latest')
      .example('$0 bud -f build/Dockerfile --build-arg VERSION=1.2 --target runtime -t app:1.2 .', 'build one stage with a build argument')
      .example('cat Containerfile | $0 bud -f - -t app ctx/', 'read the Containerfile from stdin')
      .example('$0 bud -t app https://git.example.com/app.git#v1.2:docker', 'build the docker/ directory of tag v1.2 of a git repository (also a tarball URL, or - for a tar on stdin)')
      .example('$0 bud --secret id=npmrc,src=$HOME/.npmrc --ssh default -t app .', 'give RUN --mount=type=secret,id=npmrc and RUN --mount=type=ssh what they need')
      .example('$0 bud --cache-to reg.example.com/team/cache --cache-from reg.example.com/team/cache -t app .', 'share the build cache through a registry')
      .example('$0 bud -o type=tar,dest=rootfs.tar .', 'build, and write the final root filesystem as a tar')
      .example('$0 bud --build-context base=docker-image://localhost/base:1 --build-context src=../src -t app .', 'use another image for FROM base, and ../src for COPY --from=src')
      .example('$0 bud --pull --tls-verify=false -t app .', 'pull FROM images again even when they are local, from a plain-HTTP registry')
      .example('$0 bud --timestamp 0 --no-cache -t app .', 'a reproducible build: the same inputs give the same image ID')
      .example('$0 bud --check .', 'run the build checks only (see tsbuild lint --help)') as never,
  handler: async (args) => {
    const compat = compatSettings(args, { quiet: args.quiet, platform: args.platform, tags: args.tag });
    // A git or tarball URL, or `-`, is fetched into temp dirs that go when the handler returns.
    const { openBuildContext } = await import('../../build/context-source.js');
    const tmpDir = async (): Promise<string> => (args.check ? tmpdir() : (await storesFor(args)).layout.tmp);
    if (args['stdin-context']) args.context = '-';
    await using remote = await openBuildContext(args.context, { file: args.file, tmpDir, stdin: process.stdin });
    const contextDir = remote?.dir ?? path.resolve(args.context);
    if (!remote) await checkContextDir(args.context);
    const containerfile = remote?.containerfile ?? (await readContainerfile(remote?.dir ?? args.context, remote ? remote.file : args.file));
    const buildArgs = await collectBuildArgs(args['build-arg-file'], args['build-arg']);
    const checks = { containerfile, contextDir, buildArgs, target: args.target, ignorefile: args.ignorefile };
    const { existingStores, runChecks, warnBeforeBuild } = await import('./lint.js');
    if (args.check) return runChecks({ ...checks, stores: await existingStores(args) }, 'text');
    const stores = await storesFor(args);
    const { createRuncRuntime } = await import('../../runtime/index.js');
    const { build } = await import('../../build/builder.js');
    const { parseBuildContexts } = await import('../../build/named-context.js');
    const buildContexts = await parseBuildContexts(args['build-context']);
    const { parsePullPolicy } = await import('../../remote/policy.js');
    const { createProgress } = await import('../../remote/progress.js');
    const { parseRunFlags } = await import('../../build/run-mounts/bud-flags.js');
    const { checkBuildNetwork, parseBuildNetwork } = await import('../../build/steps/run-network.js');
    const network = parseBuildNetwork(args.network);
    const policy = parsePullPolicy(args.pull);
    if (args.squash && args['squash-all']) throw new TsbuildError('INVALID_ARGUMENT', '--squash and --squash-all cannot be used together');
    await using runFlags = await parseRunFlags(runContainerFlagArgs(args));
    const repositories = async (values: string[], flag: string): Promise<string[]> => {
      if (values.length === 0) return [];
      // The registry client (undici and all) loads only for a build that names a remote cache.
      const { parseCacheRepository } = await import('../../build/remote-cache.js');
      return [...new Set(values.map((v) => parseCacheRepository(v, flag)))];
    };
    const cacheFrom = await repositories(args['cache-from'], '--cache-from');
    const cacheTo = await repositories(args['cache-to'], '--cache-to');
    const cacheTtlMs = parseCacheTtl(args['cache-ttl']);
    const output = await outputTarget([args.output ?? []].flat());
    // A tar on stdout owns stdout: step lines and the image ID go to stderr instead.
    const stdout = output?.stream ? process.stderr : process.stdout;
    // After the flags are known to be good: a bad flag is the one thing to say, not after warnings.
    await warnBeforeBuild({ ...checks, stores });
    await checkBuildNetwork(stores, network);
    const runtime = createRuncRuntime({ stateRoot: stores.layout.runcState, logger: stores.logger });
    const result = await withAbortOnSignals((signal) =>
      build(stores, runtime, {
        containerfile,
        contextDir,
        tags: args.tag,
        buildArgs,
        timestamp: buildEpoch(args.timestamp, buildArgs),
        annotations: parseKeyValues(args.annotation, '--annotation'),
        squash: args['squash-all'] ? 'all' : args.squash ? 'new' : undefined,
        env: parseEnvFlags(args.env),
        unsetEnv: args.unsetenv,
        unsetLabels: args.unsetlabel,
        platform: compat.platform,
        jobs: parseJobs(args.jobs),
        target: args.target,
        format: args.format,
        layers: args.layers && args.cache,
        network,
        labels: parseKeyValues(args.label, '--label'),
        ignorefile: args.ignorefile,
        buildContexts,
        runFlags,
        stdout,
        stderr: process.stderr,
        quiet: compat.quiet,
        signal,
        // Pull progress goes to stderr: stdout carries the step lines (or, with -q, only the ID).
        pull: { policy, flags: { ...registryFlags(args), ...compat.retry }, progress: createProgress({ stream: process.stderr, quiet: compat.quiet }) },
        cacheFrom,
        cacheTo,
        cacheTtlMs,
        output,
        allStages: compat.allStages,
        stdin: compat.stdin,
        omitHistory: compat.omitHistory,
        noCacheFilter: compat.noCacheFilter,
      }),
    );
    if (args.iidfile) await writeFile(args.iidfile, result.image.id);
    await withAbortOnSignals((signal) =>
      afterBuild(args, stores, result.image, args.tag.map(normalizeImageName), { flags: { ...registryFlags(args), ...compat.retry }, quiet: compat.quiet, signal }),
    );
  },
};


export function parseKeyValues(values: readonly string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new TsbuildError('INVALID_ARGUMENT', `${flag} "${v}": expected KEY=VALUE`);
    out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}
