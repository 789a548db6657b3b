// The network of one RUN container. host and none need nothing but the spec; under bud --network
// private|bridge|NAME each RUN gets a network namespace of its own attached to that tsbuild network,
// set up by the container manager's network code (CNI ADD: bridge, host-local; the network's own
// host rules) for a container record that exists only in memory, and torn down (CNI DEL, namespace
// deleted) after the RUN whatever its outcome, so a build leaves no veth, netns or IP lease behind.
import { randomBytes } from 'node:crypto';
import { TsbuildError } from '../../errors.js';
import { defaultConfig, type ContainerRecord, type NetworkAttachment } from '../../container/types.js';
import type { Stores } from '../../store/root.js';
import type { BuildNetwork } from '../session.js';

/** The default network of `private` and `bridge`, as for `tsbuild run`. */
export const DEFAULT_BUILD_NETWORK = 'tsbuild';

export interface RunNetwork {
  /** What generateSpec takes. */
  spec: 'host' | 'none' | string;
  /** The RUN's first attachment (eth0) under a tsbuild network. */
  attachment?: NetworkAttachment;
  /** Idempotent; tolerant of parts already gone. */
  release(): Promise<void>;
}

export async function setUpRunNetwork(stores: Stores, network: BuildNetwork, hostname: string): Promise<RunNetwork> {
  if (network === 'host' || network === 'none') return { spec: network, release: async () => undefined };
  // Loaded only here: a build without a bridge network never pays for the CNI code.
  const { createNetworkManager } = await import('../../network/index.js');
  const manager = createNetworkManager(stores);
  const record = runRecord(network.network, hostname);
  // setUp undoes its own partial work when it fails; from here on tearDown must run.
  const state = await manager.setUp(record);
  let released = false;
  return {
    spec: state.namespace,
    attachment: state.attachments[0],
    release: async () => {
      if (released) return;
      released = true;
      await manager.tearDown({ ...record, network: state });
    },
  };
}

/**
 * Before the build: a named network must exist (NOT_FOUND otherwise, before any step ran); the
 * default one is created on first use, as for `tsbuild run`.
 */
export async function checkBuildNetwork(stores: Stores, network: BuildNetwork): Promise<void> {
  if (network === 'host' || network === 'none') return;
  const { createNetworkManager } = await import('../../network/index.js');
  await createNetworkManager(stores).get(network.network);
}

/** The record the network manager works from: a bridge-mode container on one network, no ports. */
function runRecord(name: string, hostname: string): ContainerRecord {
  const id = randomBytes(32).toString('hex');
  return {
    id,
    name: `tsbuild-run-${id.slice(0, 12)}`,
    kind: 'container',
    image: '',
    imageId: '',
    created: new Date().toISOString(),
    state: 'created',
    // No record of it is ever written: the owner's pid is how a crash's leftovers are recognised.
    ownerPid: process.pid,
    config: defaultConfig({
      hostname,
      network: { mode: 'bridge', networks: [{ name, aliases: [] }], ports: [], publishAll: false, dns: [], dnsSearch: [], dnsOptions: [], addHosts: [] },
    }),
  };
}

/**
 * bud --network: host and none as they are; private (buildah's name) and bridge (podman's) mean
 * the default network; anything else names a network made with `tsbuild network create`.
 */
export function parseBuildNetwork(value: string): BuildNetwork {
  if (value === 'host' || value === 'none') return value;
  if (value === 'private' || value === 'bridge') return { network: DEFAULT_BUILD_NETWORK };
  if (/^(ns|container):|^(slirp4netns|pasta)(:|$)/.test(value)) {
    throw new TsbuildError('INVALID_ARGUMENT', `--network ${value}: not supported for builds`, { hint: 'use private, bridge, host, none or the name of a tsbuild network' });
  }
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(value)) throw new TsbuildError('INVALID_ARGUMENT', `--network "${value}": not a network name`);
  return { network: value };
}
