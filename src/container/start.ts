// Starting a created (or exited) container: rootfs and network side by side, volume mounts, /etc
// files, runtime spec, bundle, monitor; on a bridge network the monitor starts once the namespace
// exists and the start gate holds the container's process until the CNI ADD is done
// (start-gate.ts). The record says "running" only once the monitor runs the container; any
// failure on the way undoes what was done (mounts, netns, CNI attachments) in reverse order and
// leaves the record as it was, with the error.
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { TsbuildError } from '../errors.js';
import { checkExecutable, generateSpec, resolveUser, type ProcessUser, type SpecMount } from '../runtime/index.js';
import type { ContainerResources } from '../runtime/resources.js';
import { capabilitySet, type SpecHook } from '../runtime/spec.js';
import type { Stores } from '../store/root.js';
import { writeJsonAtomic } from '../util/fs.js';
import { settleAll } from '../util/settle.js';
import { writeHostFiles, type HostFileOptions } from './host-files.js';
import type { MonitorSpec, StartedMonitor } from './monitor.js';
import { installRoot } from '../util/install-root.js';
import { containerPaths } from './paths.js';
import { identify } from '../util/process-identity.js';
import { durability, mutateRecord, readRecord, updateContainerRecord } from './records.js';
import { mountRootfs, unmountRootfs } from './rootfs.js';
import { runcDeleteForce } from './runc-control.js';
import { createStartGate } from './start-gate.js';
import { monitorAlive, settleFinished } from './settle.js';
import { DEFAULT_LOG_MAX_BYTES, type ContainerRecord, type NetworkState } from './types.js';
import { prepareWorkingDir } from './working-dir.js';

export interface StartOptions {
  /** Foreground `run`: the monitor attached to our stdio; the caller waits for it and cleans up. */
  attached?: boolean;
  /** Attached: our stdin goes to the container even without -i. */
  stdinFromCaller?: boolean;
}

export interface StartResult {
  record: ContainerRecord;
  monitor?: StartedMonitor;
  /** It was running already (start is then a no-op, as podman's). */
  alreadyRunning?: boolean;
}

export async function startContainer(stores: Stores, id: string, options: StartOptions = {}): Promise<StartResult> {
  const paths = containerPaths(stores, id);
  // Exited a moment ago, its monitor still finishing: start once the clean-up is done.
  const before = await readRecord(stores, id);
  if (before?.state === 'running' && before.monitor) await settleFinished(stores, before);
  let result: StartResult | undefined;
  let failure: unknown;
  await mutateRecord(stores, id, async (record) => {
    if (record.state === 'running' && monitorAlive(record)) {
      result = { record, alreadyRunning: true };
      return undefined;
    }
    if (record.kind === 'working') {
      throw new TsbuildError('INVALID_ARGUMENT', `container "${record.name}" is a working container (tsbuild from); use "tsbuild wc run" to run commands in it`, { exitCode: 125 });
    }
    const undo: (() => Promise<unknown>)[] = [];
    // What was started side by side: settled before undo, so undo sees everything that got done.
    let inFlight: Promise<unknown> = Promise.resolve();
    try {
      // From here on the record says running, owned by this CLI until the monitor is known: a CLI
      // killed at any point leaves a container that settle.ts ends and releases (rootfs, netns,
      // CNI attachments, a runc container).
      for (const f of [paths.exit, paths.monitorState, paths.stopFlag]) rmSync(f, { force: true });
      mkdirSync(paths.upper, { recursive: true, mode: 0o755 });
      await updateContainerRecord(stores, { ...record, state: 'running', ownerPid: process.pid, startedAt: new Date().toISOString() });
      // The rootfs (with what needs it: volume mounts, the process's user and command) and the
      // network do not depend on each other, and the CNI chain is the slow part of a start: side by
      // side. Each registers its undo once done; a failure waits for the other to settle, so undo
      // sees both, and is reported in the order they used to run (rootfs, network, process).
      const rootfsReady = mountRootfs(stores, record).then((mounted) => {
        if (!record.userMounted) undo.push(() => unmountRootfs(stores, record));
        return mounted;
      });
      const inRootfs = rootfsReady.then((rootfs) =>
        Promise.all([
          record.config.mounts.length > 0
            ? import('../volume/index.js').then(({ specMounts }) => specMounts(stores, record.config.mounts, rootfs))
            : Promise.resolve([] as SpecMount[]),
          prepareProcess(record, rootfs),
        ]),
      );
      // Bridge mode: runc starts once the namespace exists, and the start gate holds the
      // container's process until the CNI ADD is done (start-gate.ts): runc's own start-up and the
      // ADD run side by side. Other modes have their network at once.
      let namespaceKnown: (namespace: string) => void = () => undefined;
      const namespace = new Promise<string>((resolve) => (namespaceKnown = resolve));
      const networkReady = setUpNetwork(stores, record, undo, namespaceKnown);
      inFlight = Promise.allSettled([rootfsReady, inRootfs, networkReady]);
      const gate = record.config.network.mode === 'bridge' ? await createStartGate(paths.startGate) : undefined;

      const hostname = record.config.hostname || record.id.slice(0, 12);
      const net = record.config.network;
      const hostOptions = { addHosts: net.addHosts, dns: net.dns, dnsSearch: net.dnsSearch, dnsOptions: net.dnsOptions };
      const hostsWith = (network: NetworkSetUp): HostFileOptions => ({ ...hostOptions, selfIp: network.state?.attachments[0]?.ip, hostsContent: network.hostsContent });
      const writeSpec = async (rootfs: string, specNetwork: string, mounts: SpecMount[], processSpec: ProcessUser): Promise<void> => {
        const spec = buildSpec(record, rootfs, hostname, specNetwork, mounts, processSpec, gate ? [gate.hook] : []);
        await writeJsonAtomic(path.join(paths.bundle, 'config.json'), spec, 0o600, durability(record));
      };
      // Peers learn the new name before it runs (and it found theirs in hostsFor).
      const announce = async (network: NetworkSetUp): Promise<void> => {
        if (network.networks.length === 0) return;
        await updateContainerRecord(stores, { ...record, network: network.state, state: 'running', ownerPid: process.pid, startedAt: new Date().toISOString() });
        const { createNetworkManager } = await import('../network/index.js');
        await createNetworkManager(stores).refreshHosts(network.networks).catch((err: unknown) => stores.logger.warn({ err }, 'cannot refresh hosts files'));
      };
      const monitorSpec: MonitorSpec = {
        id: record.id,
        bundle: paths.bundle,
        runcRoot: stores.layout.runcState,
        logFile: paths.log,
        logMaxBytes: record.config.logMaxBytes ?? DEFAULT_LOG_MAX_BYTES,
        stateFile: paths.monitorState,
        exitFile: paths.exit,
        stopFlagFile: paths.stopFlag,
        stdin: options.attached ? (record.config.interactive || options.stdinFromCaller ? 'inherit' : 'null') : record.config.interactive ? 'hold' : 'null',
        terminal: record.config.terminal,
        attach: options.attached ?? false,
        restart: record.config.restart,
        exitCommand: [process.execPath, path.join(installRoot(), 'bin', 'tsbuild'), '--root', stores.layout.root, '--log-level', 'warn', 'container', 'cleanup', record.id],
      };
      const { startMonitor } = await import('./monitor.js');

      let network: NetworkSetUp;
      let monitor: StartedMonitor;
      if (gate) {
        try {
          // (In the order failures are reported: rootfs, network, process.)
          const [rootfs, specNetwork, [volumeMounts, processSpec]] = await settleAll([rootfsReady, Promise.race([namespace, networkReady.then((n) => n.specNetwork)]), inRootfs] as const);
          // Without its own address yet: written again, in place, once the network is up (the
          // container's bind mount of the file sees the new content; its process has not started).
          const etcMounts = await writeHostFiles(paths.dir, hostname, hostOptions);
          await writeSpec(rootfs, specNetwork, [...etcMounts, ...volumeMounts], processSpec);
          undo.push(() => runcDeleteForce(stores, id));
          const started = startMonitor(monitorSpec, { detached: !options.attached });
          started.catch(() => undefined);
          try {
            network = await networkReady;
          } catch (err) {
            gate.cancel();
            await started.catch(() => undefined);
            throw err;
          }
          await writeHostFiles(paths.dir, hostname, hostsWith(network));
          await announce(network);
          gate.open();
          monitor = await started;
        } finally {
          gate.dispose();
        }
      } else {
        const [rootfs, ready, [volumeMounts, processSpec]] = await settleAll([rootfsReady, networkReady, inRootfs] as const);
        network = ready;
        const etcMounts = await (network.hostFiles ?? writeHostFiles(paths.dir, hostname, hostsWith(network)));
        await writeSpec(rootfs, network.specNetwork, [...etcMounts, ...volumeMounts], processSpec);
        await announce(network);
        undo.push(() => runcDeleteForce(stores, id));
        monitor = await startMonitor(monitorSpec, { detached: !options.attached });
      }
      const running: ContainerRecord = { ...record, network: network.state };
      const identity = identify(monitor.monitorPid);
      const next: ContainerRecord = {
        ...running,
        state: 'running',
        startedAt: new Date().toISOString(),
        pid: monitor.containerPid,
        restartCount: 0,
        stoppedByUser: false,
        monitor: identity ?? { pid: monitor.monitorPid, startTime: -1, bootId: '' },
        ...(options.attached ? { ownerPid: process.pid } : {}),
      };
      delete next.error;
      delete next.exitCode;
      if (!options.attached) delete next.ownerPid;
      result = { record: next, monitor };
      return next;
    } catch (err) {
      await inFlight;
      for (const step of undo.reverse()) await step().catch((e: unknown) => stores.logger.warn({ err: e, container: id }, 'undo after failed start incomplete'));
      failure = err;
      const failed: ContainerRecord = { ...record, error: err instanceof Error ? err.message : String(err) };
      delete failed.network;
      return failed;
    }
  });
  if (failure !== undefined) throw asStartError(failure);
  if (!result) throw new TsbuildError('NOT_FOUND', `no container with ID "${id}" found`, { exitCode: 125 });
  return result;
}

function asStartError(err: unknown): unknown {
  if (err instanceof TsbuildError) {
    return err.exitCode === undefined ? new TsbuildError(err.code, err.message, { exitCode: 125, hint: err.hint, cause: err.cause }) : err;
  }
  return new TsbuildError('RUNTIME', (err as Error).message ?? String(err), { exitCode: 125, cause: err });
}

interface NetworkSetUp {
  specNetwork: string;
  state?: NetworkState;
  /** --network container: shares the target's /etc files. */
  hostFiles?: SpecMount[];
  /** Networks whose peers' hosts files change. */
  networks: string[];
  /** Bridge mode: /etc/hosts with the peers on its networks. */
  hostsContent?: string;
}

/** The container's network; bridge mode tells `onNamespace` its namespace as soon as it exists. */
async function setUpNetwork(stores: Stores, record: ContainerRecord, undo: (() => Promise<unknown>)[], onNamespace: (path: string) => void): Promise<NetworkSetUp> {
  const net = record.config.network;
  switch (net.mode) {
    case 'host':
      return { specNetwork: 'host', state: { namespace: '', attachments: [], ports: [] }, networks: [] };
    case 'none':
      return { specNetwork: 'none', networks: [] };
    case 'container': {
      const target = await readRecord(stores, net.container ?? '');
      if (!target || target.state !== 'running' || !monitorAlive(target)) {
        throw new TsbuildError('INVALID_ARGUMENT', `container ${net.container?.slice(0, 12) ?? ''} (--network container:) is not running`, { exitCode: 125 });
      }
      const tp = containerPaths(stores, target.id);
      const bind = (destination: string, source: string): SpecMount => ({ destination, type: 'bind', source, options: ['rbind', 'rprivate'] });
      const hostFiles = [bind('/etc/hosts', tp.hosts), bind('/etc/resolv.conf', tp.resolvConf), bind('/etc/hostname', tp.hostname)];
      if (target.config.network.mode === 'host') return { specNetwork: 'host', hostFiles, networks: [] };
      const namespace = target.network?.namespace || (target.pid ? `/proc/${target.pid}/ns/net` : '');
      if (!namespace) throw new TsbuildError('INVALID_ARGUMENT', `container ${target.name} has no network namespace to join`, { exitCode: 125 });
      return { specNetwork: namespace, hostFiles, networks: [] };
    }
    case 'bridge': {
      const { createNetworkManager } = await import('../network/index.js');
      const manager = createNetworkManager(stores);
      const state = await manager.setUp(record, { onNamespace });
      undo.push(() => manager.tearDown({ ...record, network: state }));
      const hostsContent = await manager.hostsFor(record, state);
      return { specNetwork: state.namespace, state, networks: state.attachments.map((a) => a.network), hostsContent };
    }
  }
}

/** What the process needs from the rootfs: its user, its working directory, its command (127 when missing). */
async function prepareProcess(record: ContainerRecord, rootfs: string): Promise<ProcessUser> {
  const c = record.config;
  const invalid = (err: unknown): never => {
    throw new TsbuildError('INVALID_ARGUMENT', (err as Error).message, { exitCode: 125, cause: err });
  };
  const [user, , missing] = await Promise.all([
    resolveUser(rootfs, c.user || undefined).catch(invalid),
    prepareWorkingDir(rootfs, c.cwd).catch(invalid),
    checkExecutable(rootfs, c.args[0]!, c.env, c.cwd, c.mounts.map((m) => m.target)),
  ]);
  // podman's codes: 127 for a command that is not there.
  if (missing) throw new TsbuildError('RUNTIME', missing, { exitCode: 127 });
  return user;
}

function buildSpec(record: ContainerRecord, rootfs: string, hostname: string, network: string, mounts: SpecMount[], user: ProcessUser, createRuntimeHooks: SpecHook[]) {
  const c = record.config;
  const resources: ContainerResources = {};
  if (c.memory !== undefined) resources.memory = c.memory;
  if (c.cpus !== undefined) resources.cpus = c.cpus;
  if (c.pidsLimit !== undefined) resources.pidsLimit = c.pidsLimit;
  if (c.security) resources.security = c.security;
  const env = c.terminal && !c.env.some((e) => e.startsWith('TERM=')) ? [...c.env, 'TERM=xterm'] : c.env;
  return generateSpec({
    rootfs,
    args: c.args,
    env,
    cwd: c.cwd,
    user,
    hostname,
    terminal: c.terminal,
    network,
    mounts,
    readonlyRootfs: c.readOnly,
    privileged: c.privileged,
    capabilities: c.capAdd.length > 0 || c.capDrop.length > 0 ? capabilitySet(c.capAdd, c.capDrop) : undefined,
    init: c.init,
    resources: Object.keys(resources).length > 0 ? resources : undefined,
    createRuntimeHooks,
  });
}
