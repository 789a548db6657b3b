// `wc run CONTAINER -- CMD...`, buildah's `run`: a command in the working container, in the
// foreground, with the working image config's environment, user and working directory (flags
// override them). Whatever it writes stays in the container's upper dir for the next commit. The
// rootfs is unmounted afterwards unless the user mounted it or another run still uses it; mount
// points runc had to create (/proc, /dev, /etc/hosts, -v targets) are removed again, as after a
// build's RUN, so they never reach a layer.
import { randomBytes } from 'node:crypto';
import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { containerPaths } from '../container/paths.js';
import { writeHostFiles } from '../container/host-files.js';
import { unmountRootfs } from '../container/rootfs.js';
import { prepareWorkingDir } from '../container/working-dir.js';
import { TsbuildError } from '../errors.js';
import { checkExecutable, generateSpec, resolveUser, type ContainerRuntime, type SpecMount } from '../runtime/index.js';
import type { Stores } from '../store/root.js';
import { recordLastAction } from './config.js';
import { findAnyContainer, getWorkingContainer, markRun, readImageConfig, runInProgress } from './records.js';
import { mountContainer } from './rootfs.js';
import { mergeEnv } from '../container/env.js';
import { absentMountPoints, removeCreatedMountPoints } from '../build/steps/run-step.js';
import { parseBuildNetwork, setUpRunNetwork } from '../build/steps/run-network.js';

export interface WorkingRunOptions {
  container: string;
  command: string[];
  user?: string;
  workdir?: string;
  env: string[];
  /** -v HOST:CONTAINER[:ro|rw] bind mounts. */
  volumes: string[];
  /** host, none, or bud's private|bridge|NAME: a namespace of its own on that tsbuild network. */
  network: string;
  terminal: boolean;
  signal?: AbortSignal;
}


export async function runInWorkingContainer(stores: Stores, runtime: ContainerRuntime, options: WorkingRunOptions): Promise<number> {
  if (options.command.length === 0) throw new TsbuildError('INVALID_ARGUMENT', 'wc run: no command given (wc run CONTAINER -- CMD...)', { exitCode: 125 });
  const record = await getWorkingContainer(stores, options.container);
  const imageConfig = await readImageConfig(stores, record);
  const config = imageConfig.config;
  const binds = await parseVolumes(options.volumes);
  const paths = containerPaths(stores, record.id);
  const scratch = path.join(paths.dir, `wc-run-${process.pid}-${randomBytes(3).toString('hex')}`);
  const unmark = await markRun(stores, record.id);
  try {
    const rootfs = await mountContainer(stores, record);
    const absent = await absentMountPoints(rootfs, binds.map((m) => m.destination));
    try {
      const env = mergeEnv(config.Env ?? [], options.env);
      const cwd = options.workdir ?? (config.WorkingDir || '/');
      const user = await resolveUser(rootfs, options.user ?? config.User).catch((err: unknown) => {
        throw new TsbuildError('INVALID_ARGUMENT', `container "${record.name}": ${(err as Error).message}`, { exitCode: 125, cause: err });
      });
      await prepareWorkingDir(rootfs, cwd).catch((err: unknown) => {
        throw new TsbuildError('INVALID_ARGUMENT', `container "${record.name}": ${(err as Error).message}`, { exitCode: 125, cause: err });
      });
      const missing = await checkExecutable(rootfs, options.command[0]!, env, cwd, binds.map((m) => m.destination));
      if (missing) throw new TsbuildError('RUNTIME', `container "${record.name}": ${missing}`, { exitCode: 127 });
      const hostname = record.id.slice(0, 12);
      // As a build's RUN: a namespace of its own on a tsbuild network, torn down afterwards.
      const network = await setUpRunNetwork(stores, parseBuildNetwork(options.network), hostname);
      try {
        const spec = generateSpec({
          rootfs,
          args: options.command,
          env: options.terminal && !env.some((e) => e.startsWith('TERM=')) ? [...env, 'TERM=xterm'] : env,
          cwd,
          user,
          hostname,
          terminal: options.terminal,
          network: network.spec,
          mounts: [...(await writeHostFiles(scratch, hostname, { selfIp: network.attachment?.ip })), ...binds],
        });
        await mkdir(path.join(scratch, 'bundle'), { recursive: true });
        const id = `tsbuild-wc-${hostname}-${process.pid}`;
        const code = await runtime.run(id, path.join(scratch, 'bundle'), spec, { stdin: 'inherit', stdout: 'inherit', stderr: 'inherit' }, options.signal);
        await recordLastAction(stores, record.id, `/bin/sh -c ${options.command.join(' ')}`);
        return code;
      } finally {
        await network.release();
      }
    } finally {
      // Through the merged rootfs (never the upper dir under a live overlay): they exist only in
      // the upper, so removing them leaves no whiteout. Another run still inside the container may
      // use them; the commit leaves them out anyway.
      if (!(await runInProgress(stores, record.id))) await removeCreatedMountPoints(rootfs, absent);
    }
  } finally {
    await unmark();
    await rm(scratch, { recursive: true, force: true });
    const fresh = await findAnyContainer(stores, record.id);
    if (fresh && !fresh.userMounted && !(await runInProgress(stores, record.id))) await unmountRootfs(stores, fresh);
  }
}

/** -v HOST:CONTAINER[:OPTIONS] as bind mounts (ro, rw; z/Z accepted and ignored). */
export async function parseVolumes(specs: readonly string[]): Promise<SpecMount[]> {
  const mounts: SpecMount[] = [];
  for (const spec of specs) {
    const [source, destination, opts = '', ...rest] = spec.split(':');
    if (!source || !destination || rest.length > 0 || !path.isAbsolute(source) || !path.posix.isAbsolute(destination)) {
      throw new TsbuildError('INVALID_ARGUMENT', `invalid volume "${spec}": use -v /host/path:/container/path[:ro]`, { exitCode: 125 });
    }
    const options = opts === '' ? [] : opts.split(',');
    const bad = options.find((o) => !['ro', 'rw', 'z', 'Z'].includes(o));
    if (bad !== undefined) throw new TsbuildError('INVALID_ARGUMENT', `invalid volume "${spec}": unknown option "${bad}"`, { exitCode: 125 });
    await stat(source).catch((err: unknown) => {
      throw new TsbuildError('NOT_FOUND', `invalid volume "${spec}": ${source} does not exist`, { exitCode: 125, cause: err });
    });
    mounts.push({ destination, type: 'bind', source, options: ['rbind', options.includes('ro') ? 'ro' : 'rw'] });
  }
  return mounts;
}
