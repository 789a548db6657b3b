// The network manager: network records (records.ts), a container's namespace (netns.ts) and its
// attachments through the CNI plugins (cni.ts, configured by ipam.ts), published ports (ports.ts)
// and the hosts files that let containers on one network find each other by name (hosts.ts).
//
// NetworkState returned by setUp, per mode:
// - bridge:    namespace = /run/netns/tsbuild-<id12> (made here; the runtime spec joins it),
//              attachments = one per requested network (eth0, eth1, ... in order), ports = the
//              published ports with every host port chosen.
// - host:      namespace '' (the container shares the host's namespace), no attachments, no ports
//              (published ports mean nothing there, as in podman).
// - none:      namespace '' as well: the lifecycle asks runc for a fresh, empty network namespace
//              (a network namespace entry without a path); no attachments, no ports.
// - container: namespace = the other container's namespace path (it must be running with one of
//              its own); no attachments and no ports of its own (tear-down leaves that namespace alone).
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { ContainerRecord, NetworkAttachment, NetworkState, PortMapping } from '../container/types.js';
import { durability } from '../container/records.js';
import { TsbuildError } from '../errors.js';
import { processAlive } from '../store/lock.js';
import type { Stores } from '../store/root.js';
import { pathExists } from '../util/fs.js';
import { attachmentOf, cachedAttachments, cniAdd, cniDel, collectStaleAddresses, IPAM_DIR, type CniAttachment } from './cni.js';
import { pickContainer, readContainers, requestedNetworks, usesNetwork } from './containers.js';
import { refreshHostsOf, renderHosts } from './hosts.js';
import { ensureNetworkRules, removeNetworkRules } from './host-rules.js';
import { conflistFor } from './ipam.js';
import { createNetns, deleteNetns } from './netns.js';
import { resolvePorts } from './ports.js';
import { settleAll } from '../util/settle.js';
import { createRecord, ensureDefault, findRecord, listRecords, networksDir, removeRecord } from './records.js';
import { DEFAULT_NETWORK, type NetworkCreateOptions, type NetworkRecord } from './types.js';
import { byCodeUnit } from '../util/order.js';

export type { NetworkCreateOptions, NetworkRecord } from './types.js';
export { DEFAULT_NETWORK } from './types.js';
export { renderHosts, writeInPlace } from './hosts.js';
export { netnsPath } from './netns.js';

export interface SetUpOptions {
  /** Bridge mode: told the namespace's path once it exists, while the CNI chain still runs (container/start-gate.ts). */
  onNamespace?: (path: string) => void;
}

export interface NetworkManager {
  create(name: string, options?: NetworkCreateOptions): Promise<NetworkRecord>;
  list(): Promise<NetworkRecord[]>;
  /** By name or ID (prefix); NOT_FOUND if absent. The default network 'tsbuild' is created on first use. */
  get(ref: string): Promise<NetworkRecord>;
  remove(ref: string, options?: { force?: boolean }): Promise<void>;
  /** Removes networks no container uses (never the default); returns their names. */
  prune(): Promise<string[]>;
  /**
   * For a container about to start: mode bridge creates its network namespace and attaches every
   * requested network (CNI ADD: bridge + host-local + portmap); host/none/container return the
   * matching state. On failure everything done so far is undone and a TsbuildError (exit 125) thrown.
   */
  setUp(record: ContainerRecord, options?: SetUpOptions): Promise<NetworkState>;
  /** CNI DEL of every attachment, then the namespace is deleted; idempotent and tolerant of missing parts. */
  tearDown(record: ContainerRecord): Promise<void>;
  connect(record: ContainerRecord, network: string, aliases: string[]): Promise<NetworkState>;
  disconnect(record: ContainerRecord, network: string): Promise<NetworkState>;
  /** Rewrites (in place) the /etc/hosts of every running container on these networks, so names stay current. */
  refreshHosts(networks: readonly string[]): Promise<void>;
  /**
   * The /etc/hosts content for `record` with `state` (e.g. right after setUp, before the record says
   * running): own names, peers on its networks, --add-host lines. (Addition to the stub's contract.)
   */
  hostsFor(record: ContainerRecord, state: NetworkState): Promise<string>;
  /** Names of the containers (of this root) that use the network, by configuration or attachment. */
  users(ref: string): Promise<string[]>;
}

const EMPTY: NetworkState = { namespace: '', attachments: [], ports: [] };

export function createNetworkManager(stores: Stores): NetworkManager {
  const log = stores.logger;

  async function users(network: string): Promise<ContainerRecord[]> {
    return (await readContainers(stores)).filter((c) => usesNetwork(c, network)).sort((a, b) => byCodeUnit(a.name, b.name));
  }

  async function attach(record: ContainerRecord, network: NetworkRecord, ifname: string, aliases: string[], netns: string, ports: PortMapping[]): Promise<NetworkAttachment> {
    const attachment: CniAttachment = {
      containerId: record.id,
      network: network.name,
      ifname,
      netns,
      conflist: conflistFor(network, IPAM_DIR, { publishesPorts: ports.length > 0 }),
      ...(record.ownerPid !== undefined ? { ownerPid: record.ownerPid } : {}),
      portMappings: ports.map((p) => ({ hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol, ...(p.hostIp ? { hostIP: p.hostIp } : {}) })),
    };
    // The host rules (iptables-save, and iptables when one is missing) matter once traffic flows,
    // not to the CNI ADD: they are ensured beside it, and both settle before the start goes on.
    const added = collectStaleAddresses(network.name).then(() => cniAdd(stores, attachment, durability(record)));
    const [result] = await settleAll([added, ensureNetworkRules(network)] as const);
    return { network: network.name, interface: ifname, ...attachmentOf(result, ifname), aliases };
  }

  const release = (containerId: string): Promise<Error[]> => releaseAttachments(stores, containerId);

  async function setUpBridge(record: ContainerRecord, options: SetUpOptions): Promise<NetworkState> {
    const requested = requestedNetworks(record);
    const networks: NetworkRecord[] = [];
    for (const r of requested) {
      const network = await findRecord(stores, r.name);
      if (networks.some((n) => n.name === network.name)) {
        throw new TsbuildError('INVALID_ARGUMENT', `container ${record.name} names network "${network.name}" twice`);
      }
      networks.push(network);
    }
    // Ports first: a taken port fails the start before anything exists to undo.
    // (Other containers' records are read only when there are ports to check against them.)
    const wanted = withPublishAll(record);
    const ports = wanted.length > 0 ? await resolvePorts(wanted, await readContainers(stores), record.id) : [];
    const namespace = await createNetns(record.id);
    options.onNamespace?.(namespace);
    try {
      const attachments: NetworkAttachment[] = [];
      for (const [i, network] of networks.entries()) {
        // Published ports go to the first network's interface, as in podman.
        attachments.push(await attach(record, network, `eth${i}`, requested[i]!.aliases, namespace, i === 0 ? ports : []));
      }
      return { namespace, attachments, ports };
    } catch (err) {
      const left = await release(record.id);
      for (const e of left) log.warn({ container: record.id, err: e.message }, 'network clean-up after a failed start');
      throw err;
    }
  }

  const manager: NetworkManager = {
    create: (name, options) => createRecord(stores, name, options),
    async list() {
      await ensureDefault(stores);
      return listRecords(stores);
    },
    get: (ref) => findRecord(stores, ref),
    async remove(ref, options = {}) {
      const network = await findRecord(stores, ref);
      if (network.name === DEFAULT_NETWORK) {
        throw new TsbuildError('INVALID_ARGUMENT', `the default network "${DEFAULT_NETWORK}" cannot be removed`);
      }
      const using = await users(network.name);
      if (using.length > 0 && !options.force) {
        throw new TsbuildError('IN_USE', `network "${network.name}" is in use by container(s) ${using.map((c) => c.name).join(', ')}`, {
          hint: 'remove those containers first, or use -f',
        });
      }
      await removeRecord(stores, network, removeNetworkRules);
    },
    async prune() {
      const removed: string[] = [];
      for (const network of await listRecords(stores)) {
        if (network.name === DEFAULT_NETWORK || (await users(network.name)).length > 0) continue;
        await removeRecord(stores, network, removeNetworkRules);
        removed.push(network.name);
      }
      return removed;
    },
    async setUp(record, options = {}) {
      const request = record.config.network;
      switch (request.mode) {
        case 'host':
        case 'none':
          return { ...EMPTY, attachments: [], ports: [] };
        case 'container': {
          const ref = request.container ?? '';
          const other = pickContainer(await readContainers(stores), ref);
          if (!other) throw new TsbuildError('NOT_FOUND', `container "${ref}" (--network container:${ref}) not found`, { exitCode: 125 });
          if (other.state !== 'running' || !other.network?.namespace) {
            throw new TsbuildError('INVALID_ARGUMENT', `cannot join the network namespace of container ${other.name}: it is not running with a network namespace of its own`, { exitCode: 125 });
          }
          return { namespace: other.network.namespace, attachments: [], ports: [] };
        }
        case 'bridge':
          return setUpBridge(record, options);
        default:
          throw new TsbuildError('INVALID_ARGUMENT', `network mode "${String(request.mode)}" is not supported`);
      }
    },
    async tearDown(record) {
      // Whatever the mode and whatever the record says: the cache and /run/netns are the truth.
      for (const err of await release(record.id)) log.warn({ container: record.id, err: err.message }, 'network tear-down');
    },
    async connect(record, ref, aliases) {
      const network = await findRecord(stores, ref);
      if (record.config.network.mode !== 'bridge') {
        throw new TsbuildError('INVALID_ARGUMENT', `container ${record.name} uses network mode ${record.config.network.mode}: it cannot join a network`);
      }
      const state = record.network ?? EMPTY;
      const configured = requestedNetworks(record).some((n) => n.name === network.name);
      if (configured || state.attachments.some((a) => a.network === network.name)) {
        throw new TsbuildError('ALREADY_EXISTS', `container ${record.name} is already connected to network "${network.name}"`);
      }
      if (record.state !== 'running' || !state.namespace) return state;
      const taken = new Set([...state.attachments.map((a) => a.interface), ...(await cachedAttachments(stores, record.id)).map((c) => c.ifname)]);
      let n = 0;
      while (taken.has(`eth${n}`)) n++;
      const attachment = await attach(record, network, `eth${n}`, aliases, state.namespace, []);
      return { ...state, attachments: [...state.attachments, attachment] };
    },
    async disconnect(record, ref) {
      const network = await findRecord(stores, ref);
      const state = record.network ?? EMPTY;
      const configured = requestedNetworks(record).some((n) => n.name === network.name);
      const attached = state.attachments.some((a) => a.network === network.name);
      if (!configured && !attached) {
        throw new TsbuildError('NOT_FOUND', `container ${record.name} is not connected to network "${network.name}"`);
      }
      const cached = (await cachedAttachments(stores, record.id)).find((c) => c.network === network.name);
      if (cached) {
        const errors = await cniDel(stores, cached);
        if (errors.length > 0) throw errors[0];
      }
      return { ...state, attachments: state.attachments.filter((a) => a.network !== network.name) };
    },
    async refreshHosts(networks) {
      await refreshHostsOf(stores, await readContainers(stores), networks);
    },
    async hostsFor(record, state) {
      const others = await readContainers(stores);
      return renderHosts({ ...record, network: state }, others);
    },
    async users(ref) {
      const network = await findRecord(stores, ref);
      return (await users(network.name)).map((c) => c.name);
    },
  };
  return manager;
}

/** DEL of every cached attachment of the container, then its namespace; returns what failed. */
async function releaseAttachments(stores: Stores, containerId: string): Promise<Error[]> {
  const errors: Error[] = [];
  for (const cached of await cachedAttachments(stores, containerId)) errors.push(...(await cniDel(stores, cached)));
  try {
    await deleteNetns(containerId);
  } catch (err) {
    errors.push(err as Error);
  }
  return errors;
}

/**
 * Releases the attachments of bud RUNs whose build process died (SIGKILL mid-RUN): they have no
 * container record, so nothing else would ever DEL them, and their veth, namespace, address (and,
 * for attachments made before the network's rules were per network, firewall rules) would stay.
 * Attachments of containers with a record are the container manager's.
 */
export async function releaseOrphanedAttachments(stores: Stores): Promise<void> {
  for (const id of await readdir(path.join(networksDir(stores), 'cache')).catch(() => [] as string[])) {
    const cached = await cachedAttachments(stores, id);
    const owner = cached.find((c) => c.ownerPid !== undefined)?.ownerPid;
    if (owner === undefined || processAlive(owner) || (await pathExists(path.join(stores.layout.containers, id)))) continue;
    for (const err of await releaseAttachments(stores, id)) stores.logger.warn({ container: id, err: err.message }, 'releasing the network of a dead build');
  }
}

/** The requested ports plus, for -P, every EXPOSEd port not published already (to a free host port). */
function withPublishAll(record: ContainerRecord): PortMapping[] {
  const request = record.config.network;
  const ports = [...request.ports];
  if (!request.publishAll) return ports;
  for (const exposed of record.config.exposedPorts) {
    const [port, proto] = exposed.split('/');
    const containerPort = Number(port);
    const protocol = proto === 'udp' ? 'udp' : 'tcp';
    if (!Number.isInteger(containerPort) || ports.some((p) => p.containerPort === containerPort && p.protocol === protocol)) continue;
    ports.push({ hostIp: '', hostPort: 0, containerPort, protocol });
  }
  return ports;
}

