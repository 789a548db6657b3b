// The network manager against the real CNI plugins, iptables and network namespaces, with fake
// container records (no runc): addresses, peers, published ports, and nothing left after tear-down.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerRecord } from '../../../src/container/types.js';
import { cachedAttachments } from '../../../src/network/cni.js';
import { createNetworkManager, type NetworkManager } from '../../../src/network/index.js';
import type { Stores } from '../../../src/store/root.js';
import { writeJsonAtomic } from '../../../src/util/fs.js';
import { fakeRecord, get, inNetns, ipamFiles, iptablesSave, leasedTo, links, openTestStores, removeRoot, saveRecord, sh } from './helpers.js';
import { connectContainer, disconnectContainer } from '../../../src/network/attach.js';
import { readJson } from '../../../src/util/fs.js';
import { containerPaths } from '../../../src/container/paths.js';

let stores: Stores;
let manager: NetworkManager;
const started: ContainerRecord[] = [];
const networks: string[] = [];

beforeAll(async () => {
  stores = await openTestStores();
  manager = createNetworkManager(stores);
});

afterAll(async () => {
  for (const r of started) await manager.tearDown(r);
  for (const n of networks) await manager.remove(n, { force: true }).catch(() => undefined);
  await removeRoot(stores);
});

async function up(record: ContainerRecord): Promise<ContainerRecord> {
  started.push(record);
  const state = await manager.setUp(record);
  const running = { ...record, state: 'running' as const, network: state };
  await saveRecord(stores, running);
  return running;
}

/** Host-side veth names of the container's attachments (from the cached CNI results). */
async function hostVeths(record: ContainerRecord): Promise<string[]> {
  const cached = await cachedAttachments(stores, record.id);
  return cached.flatMap((c) => (c.result?.interfaces ?? []).filter((i) => !i.sandbox && i.name.startsWith('veth')).map((i) => i.name));
}

async function expectNothingLeft(record: ContainerRecord, ip: string, veths: string[], network: string): Promise<void> {
  const linkText = links();
  for (const veth of veths) expect(linkText).not.toContain(`${veth}@`);
  const rules = iptablesSave();
  expect(rules).not.toContain(`${ip}/`);
  expect(rules).not.toContain(`${ip} `);
  expect(rules).not.toContain(record.id.slice(0, 12));
  expect(await ipamFiles(network)).not.toContain(ip);
  expect(await cachedAttachments(stores, record.id)).toEqual([]);
  expect(links()).toBeDefined();
  expect(() => inNetns(`/run/netns/tsbuild-${record.id.slice(0, 12)}`, ['true'])).toThrow();
}

describe('network manager', () => {
  it('attaches a container to the default network and tears it down without leftovers', async () => {
    const record = await up(fakeRecord('solo'));
    const state = record.network!;
    expect(state.namespace).toBe(`/run/netns/tsbuild-${record.id.slice(0, 12)}`);
    expect(state.attachments).toHaveLength(1);
    const a = state.attachments[0]!;
    expect(a).toMatchObject({ network: 'tsbuild', interface: 'eth0', prefixLength: 24, gateway: '10.89.0.1' });
    expect(a.ip).toMatch(/^10\.89\.0\.\d+$/);
    expect(a.mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    expect(inNetns(state.namespace, ['ip', '-o', '-4', 'addr', 'show', 'eth0'])).toContain(`${a.ip}/24`);
    expect(inNetns(state.namespace, ['ip', 'route'])).toContain('default via 10.89.0.1');
    expect(await ipamFiles('tsbuild')).toContain(a.ip);
    // Outbound NAT: the network's masquerade rule (host-rules.ts), not one per container.
    expect(sh(['iptables-save', '-t', 'nat'])).toMatch(/-A TSBUILD-POSTROUTING -s 10\.89\.0\.0\/24 ! -d 224\.0\.0\.0\/4 .*-j MASQUERADE/);
    const veths = await hostVeths(record);
    expect(veths).toHaveLength(1);
    expect(links()).toContain(`${veths[0]}@`);

    await manager.tearDown(record);
    await manager.tearDown(record); // idempotent
    await expectNothingLeft(record, a.ip, veths, 'tsbuild');
  });

  it('puts two containers of a user network in reach of each other, and only there', async () => {
    const net = await manager.create('nettest-peers', { subnet: '10.89.231.0/24' });
    networks.push(net.name);
    expect(net).toMatchObject({ subnet: '10.89.231.0/24', gateway: '10.89.231.1', internal: false });
    expect(net.bridge).toMatch(/^tsb-[0-9a-f]{8}$/);
    const a = await up(fakeRecord('peer-a', { networks: [{ name: net.name, aliases: ['alpha'] }] }));
    const b = await up(fakeRecord('peer-b', { networks: [{ name: net.name, aliases: [] }] }));
    const ipB = b.network!.attachments[0]!.ip;
    expect(ipB).toMatch(/^10\.89\.231\./);
    expect(inNetns(a.network!.namespace, ['busybox', 'ping', '-c', '1', '-W', '2', ipB])).toContain('1 packets received');

    // Names: every running peer with its aliases and short ID.
    await manager.refreshHosts([net.name]);
    const { readFile } = await import('node:fs/promises');
    const hostsB = await readFile(path.join(stores.layout.containers, b.id, 'hosts'), 'utf8');
    expect(hostsB).toContain(`${a.network!.attachments[0]!.ip}\tpeer-a alpha ${a.id.slice(0, 12)}`);
    expect(hostsB).toContain(`${ipB}\t${b.id.slice(0, 12)} peer-b`);

    await expect(manager.remove(net.name)).rejects.toThrow(/in use by container\(s\) peer-a, peer-b/);
  });

  it('publishes a port: a page served in the namespace is fetched from 127.0.0.1', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-www-'));
    await writeFile(path.join(dir, 'index.html'), 'hello from the namespace\n');
    let httpd: ChildProcess | undefined;
    try {
      const record = await up(fakeRecord('web', { ports: [{ hostIp: '127.0.0.1', hostPort: 0, containerPort: 80, protocol: 'tcp' }] }));
      const port = record.network!.ports[0]!;
      expect(port.hostPort).toBeGreaterThan(0);
      httpd = spawn('nsenter', [`--net=${record.network!.namespace}`, 'busybox', 'httpd', '-f', '-p', '80', '-h', dir], { stdio: 'ignore' });
      let page: { status: number; body: string } | undefined;
      for (let i = 0; i < 50 && !page; i++) {
        page = await get(`http://127.0.0.1:${port.hostPort}/`).catch(async () => {
          await new Promise((r) => setTimeout(r, 100));
          return undefined;
        });
      }
      expect(page).toEqual({ status: 200, body: 'hello from the namespace\n' });

      // The host port is now taken: a second container asking for it fails before any change.
      const clash = fakeRecord('clash', { ports: [{ hostIp: '127.0.0.1', hostPort: port.hostPort, containerPort: 80, protocol: 'tcp' }] });
      await expect(manager.setUp(clash)).rejects.toThrow(`port ${port.hostPort} is already in use`);
      expect(links()).not.toContain(`tsbuild-${clash.id.slice(0, 12)}`);
      expect(await cachedAttachments(stores, clash.id)).toEqual([]);

      const ip = record.network!.attachments[0]!.ip;
      const veths = await hostVeths(record);
      httpd.kill();
      await manager.tearDown(record);
      await expectNothingLeft(record, ip, veths, 'tsbuild');
      expect(iptablesSave()).not.toContain(`--dport ${port.hostPort} `);
    } finally {
      httpd?.kill();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('undoes everything when a plugin fails, and names the plugin', async () => {
    // A bridge name longer than IFNAMSIZ: the bridge plugin refuses it after host-local allocated.
    await writeJsonAtomic(path.join(stores.layout.root, 'networks', 'broken.json'), {
      name: 'broken', id: 'f'.repeat(64), driver: 'bridge', bridge: 'this-bridge-name-is-too-long', subnet: '10.89.232.0/24',
      gateway: '10.89.232.1', internal: false, labels: {}, created: new Date().toISOString(),
    });
    const record = fakeRecord('doomed', { networks: [{ name: 'tsbuild', aliases: [] }, { name: 'broken', aliases: [] }] });
    const error = await manager.setUp(record).catch((e: unknown) => e as Error & { exitCode?: number });
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/CNI plugin bridge failed \(ADD on network "broken"\)/);
    expect((error as { exitCode?: number }).exitCode).toBe(125);
    expect(await cachedAttachments(stores, record.id)).toEqual([]);
    expect(await ipamFiles('broken')).toEqual([]);
    // The first network (tsbuild, attached before the broken one failed) was released too.
    expect(await leasedTo(record.id)).toEqual([]);
    expect(iptablesSave()).not.toContain(record.id.slice(0, 12));
    expect(() => inNetns(`/run/netns/tsbuild-${record.id.slice(0, 12)}`, ['true'])).toThrow();
    // The network's own host rules were set before its plugin failed; they go with the network.
    await manager.remove('broken', { force: true });
    expect(iptablesSave()).not.toContain('tsbuild network broken ');
  });

  it('an internal network gives no default route and no masquerade', async () => {
    const net = await manager.create('nettest-internal', { subnet: '10.89.234.0/24', internal: true });
    networks.push(net.name);
    const record = await up(fakeRecord('inside', { networks: [{ name: net.name, aliases: [] }] }));
    const ip = record.network!.attachments[0]!.ip;
    expect(inNetns(record.network!.namespace, ['ip', 'route'])).not.toContain('default');
    expect(inNetns(record.network!.namespace, ['ip', 'route'])).toContain('10.89.234.0/24');
    expect(sh(['iptables-save', '-t', 'nat'])).not.toContain(`${ip}/32`);
    await manager.tearDown(record);
  });

  it('connects a running container to another network as eth1 and disconnects it again', async () => {
    const net = await manager.create('nettest-connect', { subnet: '10.89.235.0/24' });
    networks.push(net.name);
    const record = await up(fakeRecord('roamer'));
    await connectContainer(stores, manager, net.name, 'roamer', ['wanderer']);
    const after = (await readJson<ContainerRecord>(containerPaths(stores, record.id).record))!;
    expect(after.config.network.networks).toEqual([{ name: 'tsbuild', aliases: [] }, { name: net.name, aliases: ['wanderer'] }]);
    const eth1 = after.network!.attachments[1]!;
    expect(eth1).toMatchObject({ network: net.name, interface: 'eth1', aliases: ['wanderer'] });
    expect(inNetns(record.network!.namespace, ['ip', '-o', '-4', 'addr', 'show', 'eth1'])).toContain(`${eth1.ip}/24`);
    await expect(connectContainer(stores, manager, net.name, 'roamer', [])).rejects.toThrow(/already connected/);

    await disconnectContainer(stores, manager, net.name, record.id.slice(0, 12));
    const final = (await readJson<ContainerRecord>(containerPaths(stores, record.id).record))!;
    expect(final.network!.attachments.map((a) => a.interface)).toEqual(['eth0']);
    expect(final.config.network.networks).toEqual([{ name: 'tsbuild', aliases: [] }]);
    expect(() => inNetns(record.network!.namespace, ['ip', 'link', 'show', 'eth1'])).toThrow();
    expect(await ipamFiles(net.name)).toEqual([]);
    await expect(disconnectContainer(stores, manager, 'tsbuild', 'roamer')).rejects.toThrow(/only network/);
  });

  it('frees leases whose container namespace is gone (a crashed start, a deleted root)', async () => {
    const net = await manager.create('nettest-stale', { subnet: '10.89.237.0/24' });
    networks.push(net.name);
    const { mkdir } = await import('node:fs/promises');
    await mkdir('/run/tsbuild/ipam/nettest-stale', { recursive: true });
    const ghost = 'e'.repeat(64);
    await writeFile('/run/tsbuild/ipam/nettest-stale/10.89.237.77', `${ghost}\r\neth0`);
    const record = await up(fakeRecord('after-crash', { networks: [{ name: net.name, aliases: [] }] }));
    expect(await ipamFiles(net.name)).toEqual([record.network!.attachments[0]!.ip]);
    await manager.tearDown(record);
  });
});
