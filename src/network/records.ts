// Network records: <root>/networks/<name>.json. Subnets and bridges are host-wide resources (every
// tsbuild root on this machine shares them), so choosing a subnet and creating a bridge happen under
// a host-wide lock in /run/tsbuild, and a subnet counts as taken when any record of this root or
// any host route (another root's bridge, podman's, a LAN) already covers it.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { TsbuildError } from '../errors.js';
import { withLock } from '../store/lock.js';
import type { Stores } from '../store/root.js';
import { listNames, pathExists, readJson, writeJsonAtomic } from '../util/fs.js';
import { formatCidr, gatewayFor, overlaps, parseCidr, parseProcRoutes, type Cidr } from './ipam.js';
import { ipCommand } from './netns.js';
import { DEFAULT_BRIDGE, DEFAULT_NETWORK, DEFAULT_SUBNET, type NetworkCreateOptions, type NetworkRecord } from './types.js';
import { byCodeUnit } from '../util/order.js';

/** Host-wide state: the lock for subnet choice, host-local's allocations. tmpfs: gone at reboot, like the netns. */
export const HOST_RUN_DIR = '/run/tsbuild';

/**
 * host-local's allocations. Host-wide, not per root: the bridges and subnets are shared by every
 * tsbuild root on the machine (all of them put their default network on tsbuild0), so two roots
 * must never hand out one address twice. Apart from podman's /var/lib/cni/networks, and on /run
 * so a reboot (which ends every container) frees every address.
 */
export const IPAM_DIR = path.join(HOST_RUN_DIR, 'ipam');

/** host-local names each allocation file by its address. */
export const ALLOCATION_FILE = /^\d+\.\d+\.\d+\.\d+$/;

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function networksDir(stores: Stores): string {
  return path.join(stores.layout.root, 'networks');
}

export function validateNetworkName(name: string): void {
  if (!NAME.test(name) || name.length > 64) {
    throw new TsbuildError('INVALID_ARGUMENT', `invalid network name "${name}": use letters, digits, "_", "." and "-" (up to 64, starting with a letter or digit)`);
  }
}

const recordFile = (stores: Stores, name: string): string => path.join(networksDir(stores), `${name}.json`);

export async function hostLock<T>(fn: () => Promise<T>): Promise<T> {
  await mkdir(HOST_RUN_DIR, { recursive: true, mode: 0o700 });
  return withLock(path.join(HOST_RUN_DIR, 'networks.lock'), fn);
}

export async function listRecords(stores: Stores): Promise<NetworkRecord[]> {
  const names = listNames(networksDir(stores));
  const records = await Promise.all(
    names.filter((n) => n.endsWith('.json')).map((n) => readJson<NetworkRecord>(path.join(networksDir(stores), n)).catch(() => undefined)),
  );
  return records.filter((r): r is NetworkRecord => r !== undefined).sort((a, b) => byCodeUnit(a.name, b.name));
}

/** The default network's record, written the first time anything asks for it. */
export async function ensureDefault(stores: Stores): Promise<NetworkRecord> {
  const existing = await readJson<NetworkRecord>(recordFile(stores, DEFAULT_NETWORK));
  if (existing) return existing;
  const record: NetworkRecord = {
    name: DEFAULT_NETWORK,
    id: randomBytes(32).toString('hex'),
    driver: 'bridge',
    // Every root shares tsbuild0 and its subnet (and host-local's allocations for it, see ipamDir).
    bridge: DEFAULT_BRIDGE,
    subnet: DEFAULT_SUBNET,
    gateway: '10.89.0.1',
    internal: false,
    labels: {},
    created: new Date().toISOString(),
  };
  await mkdir(networksDir(stores), { recursive: true });
  await writeJsonAtomic(recordFile(stores, DEFAULT_NETWORK), record);
  return record;
}

export async function findRecord(stores: Stores, ref: string): Promise<NetworkRecord> {
  if (ref === DEFAULT_NETWORK || ref === 'bridge') return ensureDefault(stores);
  if (NAME.test(ref)) {
    const byName = await readJson<NetworkRecord>(recordFile(stores, ref));
    if (byName) return byName;
  }
  const all = await listRecords(stores);
  const byId = all.filter((r) => r.id === ref || (ref.length >= 3 && r.id.startsWith(ref)));
  if (byId.length === 1) return byId[0]!;
  if (byId.length > 1) throw new TsbuildError('INVALID_ARGUMENT', `network ID prefix "${ref}" is ambiguous`);
  throw new TsbuildError('NOT_FOUND', `network "${ref}" not found`, { hint: 'see "tsbuild network ls"' });
}

export async function hostRoutes(): Promise<Cidr[]> {
  return parseProcRoutes(await readFile('/proc/net/route', 'utf8').catch(() => ''));
}

export async function createRecord(stores: Stores, name: string, options: NetworkCreateOptions = {}): Promise<NetworkRecord> {
  validateNetworkName(name);
  if (name === DEFAULT_NETWORK || name === 'bridge' || name === 'host' || name === 'none') {
    throw new TsbuildError('ALREADY_EXISTS', `network name "${name}" is reserved`);
  }
  if (options.gateway && !options.subnet) throw new TsbuildError('INVALID_ARGUMENT', '--gateway needs --subnet');
  return hostLock(async () => {
    if (await pathExists(recordFile(stores, name))) {
      throw new TsbuildError('ALREADY_EXISTS', `network "${name}" already exists`);
    }
    const others = [await ensureDefault(stores), ...(await listRecords(stores))];
    const routes = await hostRoutes();
    let subnet: Cidr;
    if (options.subnet) {
      subnet = parseCidr(options.subnet);
      const clash = others.find((o) => overlaps(parseCidr(o.subnet), subnet));
      if (clash) throw new TsbuildError('ALREADY_EXISTS', `subnet ${formatCidr(subnet)} overlaps network "${clash.name}" (${clash.subnet})`);
      const route = routes.find((r) => overlaps(r, subnet));
      if (route) throw new TsbuildError('ALREADY_EXISTS', `subnet ${formatCidr(subnet)} overlaps the host route to ${formatCidr(route)}`);
    } else {
      subnet = freeSubnet([...others.map((o) => parseCidr(o.subnet)), ...routes]);
    }
    const id = randomBytes(32).toString('hex');
    const record: NetworkRecord = {
      name,
      id,
      driver: 'bridge',
      // IFNAMSIZ is 16 with the NUL: "tsb-" + 8 hex characters fits with room.
      bridge: `tsb-${id.slice(0, 8)}`,
      subnet: formatCidr(subnet),
      gateway: gatewayFor(subnet, options.gateway),
      internal: options.internal ?? false,
      labels: options.labels ?? {},
      created: new Date().toISOString(),
    };
    // The bridge (with its gateway address) is made now, not at the first container, so its route
    // reserves the subnet for every other tsbuild root choosing one from now on.
    await createBridge(record);
    try {
      await mkdir(networksDir(stores), { recursive: true });
      await writeJsonAtomic(recordFile(stores, name), record);
    } catch (err) {
      await deleteBridge(record.bridge);
      throw err;
    }
    return record;
  });
}

/** The first 10.89.N.0/24 (N = 1..255) that nothing else covers; 10.89.0.0/24 is the default network's. */
export function freeSubnet(taken: readonly Cidr[]): Cidr {
  for (let n = 1; n <= 255; n++) {
    const candidate = { base: ((10 << 24) | (89 << 16) | (n << 8)) >>> 0, prefix: 24 };
    if (!taken.some((t) => overlaps(t, candidate))) return candidate;
  }
  throw new TsbuildError('RUNTIME', 'no free subnet left in 10.89.0.0/16', { hint: 'remove unused networks or pass --subnet' });
}

export async function createBridge(record: NetworkRecord): Promise<void> {
  if (await pathExists(`/sys/class/net/${record.bridge}`)) return;
  const prefix = parseCidr(record.subnet).prefix;
  try {
    await ipCommand(['link', 'add', record.bridge, 'type', 'bridge']);
    await ipCommand(['addr', 'add', `${record.gateway}/${prefix}`, 'dev', record.bridge]);
    await ipCommand(['link', 'set', record.bridge, 'up']);
  } catch (err) {
    await deleteBridge(record.bridge);
    throw err;
  }
}

export async function deleteBridge(bridge: string): Promise<void> {
  if (!(await pathExists(`/sys/class/net/${bridge}`))) return;
  await ipCommand(['link', 'delete', bridge, 'type', 'bridge']).catch(() => undefined);
}

/** `lastUse` runs (under the host lock) when no root has addresses on the network any more. */
export async function removeRecord(stores: Stores, record: NetworkRecord, lastUse: (record: NetworkRecord) => Promise<void>): Promise<void> {
  await hostLock(async () => {
    await rm(recordFile(stores, record.name), { force: true });
    if (record.bridge !== DEFAULT_BRIDGE) await deleteBridge(record.bridge);
    // host-local's directory of the network (its lock and last-reserved marker) and the host rules
    // go too, unless a network of the same name in another root still holds addresses in it.
    const ipamDir = path.join(IPAM_DIR, record.name);
    const entries = listNames(ipamDir);
    if (entries.some((n) => ALLOCATION_FILE.test(n))) return;
    await rm(ipamDir, { recursive: true, force: true });
    await lastUse(record);
  });
}
