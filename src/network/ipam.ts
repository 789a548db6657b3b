// IPv4 subnet arithmetic and the CNI configuration list (bridge + host-local + portmap)
// that a network record turns into. Pure functions: the records module decides which subnet a
// network gets, this module only checks and describes it.
import { TsbuildError } from '../errors.js';
import type { NetworkRecord } from './types.js';

export interface Cidr {
  /** Network address as an unsigned 32-bit number. */
  base: number;
  prefix: number;
}

export function parseIp(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return value;
}

export function formatIp(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join('.');
}

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses "10.89.3.0/24"; host bits must be zero (what podman and CNI accept as a subnet). */
export function parseCidr(text: string): Cidr {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(text.trim());
  const ip = m ? parseIp(m[1]!) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (ip === undefined || !(prefix >= 8 && prefix <= 30)) {
    throw new TsbuildError('INVALID_ARGUMENT', `invalid subnet "${text}": expected an IPv4 CIDR such as 10.89.5.0/24 (prefix 8 to 30)`);
  }
  if ((ip & ~maskOf(prefix)) >>> 0 !== 0) {
    throw new TsbuildError('INVALID_ARGUMENT', `invalid subnet "${text}": host bits are set (did you mean ${formatIp((ip & maskOf(prefix)) >>> 0)}/${prefix}?)`);
  }
  return { base: ip, prefix };
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIp(cidr.base)}/${cidr.prefix}`;
}

export function contains(cidr: Cidr, ip: number): boolean {
  return ((ip & maskOf(cidr.prefix)) >>> 0) === cidr.base;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const prefix = Math.min(a.prefix, b.prefix);
  return ((a.base & maskOf(prefix)) >>> 0) === ((b.base & maskOf(prefix)) >>> 0);
}

/** The gateway for a subnet: the given one (checked to be a host address inside it) or the first host. */
export function gatewayFor(cidr: Cidr, gateway?: string): string {
  if (gateway === undefined || gateway === '') return formatIp(cidr.base + 1);
  const ip = parseIp(gateway);
  if (ip === undefined) throw new TsbuildError('INVALID_ARGUMENT', `invalid gateway "${gateway}": expected an IPv4 address`);
  const broadcast = (cidr.base | ~maskOf(cidr.prefix)) >>> 0;
  if (!contains(cidr, ip) || ip === cidr.base || ip === broadcast) {
    throw new TsbuildError('INVALID_ARGUMENT', `gateway ${gateway} is not a host address in subnet ${formatCidr(cidr)}`);
  }
  return gateway;
}

/** Destinations of the host's IPv4 routes (/proc/net/route: little-endian hex), default route excluded. */
export function parseProcRoutes(text: string): Cidr[] {
  const out: Cidr[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const dest = leHex(f[1]!);
    const mask = leHex(f[7]!);
    if (mask === 0) continue;
    const prefix = 32 - countTrailingZeros(mask);
    out.push({ base: (dest & mask) >>> 0, prefix });
  }
  return out;
}

function leHex(hex: string): number {
  const n = Number.parseInt(hex, 16) >>> 0;
  return (((n & 0xff) << 24) | (((n >>> 8) & 0xff) << 16) | (((n >>> 16) & 0xff) << 8) | ((n >>> 24) & 0xff)) >>> 0;
}

function countTrailingZeros(mask: number): number {
  let n = 0;
  while (n < 32 && ((mask >>> n) & 1) === 0) n++;
  return n;
}

/**
 * The CNI plugin chain of a network. cniVersion 1.0.0: the highest version Debian's
 * containernetworking-plugins 1.1.1 speak (`CNI_COMMAND=VERSION` reports 0.1.0 to 1.0.0).
 * host-local keeps its allocations under `ipamDir/<network name>`. portmap is in the chain only for
 * an attachment that publishes ports: without any it adds no rule, but its ADD and DEL still cost
 * two plugin runs on every container start (the chain an attachment was added with is cached with
 * it, so its DEL runs the same chain).
 */
export function conflistFor(network: NetworkRecord, ipamDir: string, options: { publishesPorts: boolean }): CniConflist {
  const cidr = parseCidr(network.subnet);
  return {
    cniVersion: '1.0.0',
    name: network.name,
    plugins: [
      {
        type: 'bridge',
        bridge: network.bridge,
        isGateway: true,
        // NAT to the outside is the network's own rule (host-rules.ts), not a chain per container.
        // --internal: no NAT and (below) no default route, only the subnet.
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: formatCidr(cidr), gateway: network.gateway }]],
          routes: network.internal ? [] : [{ dst: '0.0.0.0/0' }],
          dataDir: ipamDir,
        },
      },
      // Published ports: DNAT from the host (and SNAT for hairpin and 127.0.0.1 connections).
      ...(options.publishesPorts ? [{ type: 'portmap', capabilities: { portMappings: true }, snat: true }] : []),
    ],
  };
}

export interface CniConflist {
  cniVersion: string;
  name: string;
  plugins: ({ type: string } & Record<string, unknown>)[];
}
