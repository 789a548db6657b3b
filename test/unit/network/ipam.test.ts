import { describe, expect, it } from 'vitest';
import { defaultConfig, type ContainerRecord } from '../../../src/container/types.js';
import { renderHosts } from '../../../src/network/hosts.js';
import { conflistFor, formatCidr, gatewayFor, overlaps, parseCidr, parseProcRoutes } from '../../../src/network/ipam.js';
import { freeSubnet } from '../../../src/network/records.js';
import type { NetworkRecord } from '../../../src/network/types.js';

const net = (fields: Partial<NetworkRecord> = {}): NetworkRecord => ({
  name: 'appnet', id: 'a'.repeat(64), driver: 'bridge', bridge: 'tsb-aaaaaaaa', subnet: '10.89.3.0/24', gateway: '10.89.3.1',
  internal: false, labels: {}, created: '', ...fields,
});

describe('subnets', () => {
  it('parses and checks CIDRs', () => {
    expect(formatCidr(parseCidr('10.89.3.0/24'))).toBe('10.89.3.0/24');
    expect(() => parseCidr('10.89.3.5/24')).toThrow(/host bits are set \(did you mean 10.89.3.0\/24\?\)/);
    expect(() => parseCidr('10.89.300.0/24')).toThrow(/invalid subnet/);
    expect(() => parseCidr('fd00::/64')).toThrow(/invalid subnet/);
    expect(overlaps(parseCidr('10.88.0.0/16'), parseCidr('10.88.5.0/24'))).toBe(true);
    expect(overlaps(parseCidr('10.89.1.0/24'), parseCidr('10.89.2.0/24'))).toBe(false);
  });

  it('checks gateways', () => {
    const cidr = parseCidr('10.90.0.0/24');
    expect(gatewayFor(cidr)).toBe('10.90.0.1');
    expect(gatewayFor(cidr, '10.90.0.254')).toBe('10.90.0.254');
    expect(() => gatewayFor(cidr, '10.91.0.1')).toThrow(/not a host address in subnet 10.90.0.0\/24/);
    expect(() => gatewayFor(cidr, '10.90.0.255')).toThrow(/not a host address/);
  });

  it('reads host routes from /proc/net/route', () => {
    const text = [
      'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
      'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
      'cni-podman0\t0000580A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
      'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
    ].join('\n');
    expect(parseProcRoutes(text).map(formatCidr)).toEqual(['10.88.0.0/16', '192.0.2.0/24']);
  });

  it('picks the first 10.89.N.0/24 nothing covers, never the default one', () => {
    expect(formatCidr(freeSubnet([]))).toBe('10.89.1.0/24');
    expect(formatCidr(freeSubnet([parseCidr('10.89.1.0/24'), parseCidr('10.89.2.0/23')]))).toBe('10.89.4.0/24');
    expect(() => freeSubnet([parseCidr('10.89.0.0/16')])).toThrow(/no free subnet/);
  });
});

describe('CNI configuration', () => {
  it('chains bridge (default route; NAT and FORWARD are host rules of the network) and portmap, with host-local in our own dataDir', () => {
    const list = conflistFor(net(), '/run/tsbuild/ipam', { publishesPorts: true });
    expect(list.cniVersion).toBe('1.0.0');
    expect(list.plugins.map((p) => p.type)).toEqual(['bridge', 'portmap']);
    expect(list.plugins[0]).toMatchObject({
      bridge: 'tsb-aaaaaaaa', isGateway: true, ipMasq: false, hairpinMode: true,
      ipam: { type: 'host-local', ranges: [[{ subnet: '10.89.3.0/24', gateway: '10.89.3.1' }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: '/run/tsbuild/ipam' },
    });
    expect(list.plugins[1]).toMatchObject({ capabilities: { portMappings: true }, snat: true });
  });

  it('leaves portmap out of the chain of an attachment that publishes no port', () => {
    expect(conflistFor(net(), '/x', { publishesPorts: false }).plugins.map((p) => p.type)).toEqual(['bridge']);
  });

  it('an internal network has no default route', () => {
    const bridge = conflistFor(net({ internal: true }), '/x', { publishesPorts: false }).plugins[0]!;
    expect(bridge.ipMasq).toBe(false);
    expect((bridge.ipam as { routes: unknown[] }).routes).toEqual([]);
  });
});

describe('hosts files', () => {
  const record = (name: string, ip: string, aliases: string[] = [], network = 'appnet'): ContainerRecord => ({
    id: name.padEnd(64, '0').replace(/[^a-f0-9]/g, 'a'), name, kind: 'container', image: 'i', imageId: 'i', created: '', state: 'running',
    config: defaultConfig(),
    network: { namespace: '/run/netns/x', ports: [], attachments: [{ network, interface: 'eth0', ip, prefixLength: 24, gateway: '', mac: '', aliases }] },
  });

  it('lists localhost, the container itself, and running peers on shared networks with aliases and short IDs', () => {
    const self = record('web', '10.89.3.2');
    self.config.network.addHosts = [{ name: 'registry.local', ip: '192.0.2.9' }];
    const db = record('db', '10.89.3.3', ['postgres']);
    const stranger = record('other', '10.89.4.2', [], 'elsewhere');
    const stopped = { ...record('old', '10.89.3.9'), state: 'exited' as const };
    const text = renderHosts(self, [self, db, stranger, stopped]);
    expect(text).toBe(
      [
        '127.0.0.1\tlocalhost',
        '::1\tlocalhost ip6-localhost ip6-loopback',
        `10.89.3.2\t${self.id.slice(0, 12)} web`,
        `10.89.3.3\tdb postgres ${db.id.slice(0, 12)}`,
        '192.0.2.9\tregistry.local',
        '',
      ].join('\n'),
    );
  });
});
