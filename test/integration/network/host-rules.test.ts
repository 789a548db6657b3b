// A network's NAT and FORWARD rules are the network's (network/host-rules.ts), not each container's:
// a container's traffic to another network leaves masqueraded as the host, `network rm` takes the
// rules away, and an --internal network gets no NAT. "Outside" is a network namespace of the test,
// wired to the host by a veth pair on a TEST-NET-2 subnet, with busybox httpd logging who called.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBusyboxBase, createTestRoot, type TestRoot } from '../../helpers/tsbuild.js';
import { iptablesSave, sh } from './helpers.js';

const OUTSIDE_NS = `tsbtest-out-${process.pid}`;
const HOST_VETH = `tsbo${process.pid % 100000}`;
const HOST_IP = '198.51.100.1';
const OUTSIDE_IP = '198.51.100.2';
let t: TestRoot;
let httpd: ChildProcess | undefined;
let httpdLog = '';
const www = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-www-'));

beforeAll(async () => {
  t = await createTestRoot();
  await buildBusyboxBase(t);
  sh(['ip', 'netns', 'add', OUTSIDE_NS]);
  sh(['ip', 'link', 'add', HOST_VETH, 'type', 'veth', 'peer', 'name', `${HOST_VETH}p`, 'netns', OUTSIDE_NS]);
  sh(['ip', 'addr', 'add', `${HOST_IP}/30`, 'dev', HOST_VETH]);
  sh(['ip', 'link', 'set', HOST_VETH, 'up']);
  sh(['ip', '-n', OUTSIDE_NS, 'addr', 'add', `${OUTSIDE_IP}/30`, 'dev', `${HOST_VETH}p`]);
  sh(['ip', '-n', OUTSIDE_NS, 'link', 'set', `${HOST_VETH}p`, 'up']);
  sh(['ip', '-n', OUTSIDE_NS, 'link', 'set', 'lo', 'up']);
  // No route back to the container subnets: only a masqueraded request can be answered.
  httpd = spawn('ip', ['netns', 'exec', OUTSIDE_NS, '/bin/busybox', 'httpd', '-f', '-v', '-p', `${OUTSIDE_IP}:8080`, '-h', www], { stdio: ['ignore', 'ignore', 'pipe'] });
  httpd.stderr!.on('data', (d: Buffer) => (httpdLog += d.toString()));
  await listening(OUTSIDE_IP, 8080);
  httpdLog = '';
}, 120_000);

/** Resolves once something accepts connections at ip:port (the host reaches the namespace directly). */
async function listening(ip: string, port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, ip, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens at ${ip}:${port}`);
}

afterAll(async () => {
  httpd?.kill();
  try {
    sh(['ip', 'link', 'delete', HOST_VETH]);
  } catch {
    // gone with the namespace
  }
  sh(['ip', 'netns', 'delete', OUTSIDE_NS]);
  rmSync(www, { recursive: true, force: true });
  if (!t) return;
  for (const n of ['rules-nat', 'rules-int']) await t.run(['network', 'rm', '-f', n]);
  await t.cleanup();
});

const tagged = (network: string, subnet: string): string[] => iptablesSave().split('\n').filter((l) => l.includes(`--comment "tsbuild network ${network} ${subnet}"`));

describe('per-network host rules', () => {
  it('masquerades a container on the default network as the host, with one set of rules per network', async () => {
    const r = await t.run(['run', '--rm', 'busybox-base', 'sh', '-c', `timeout 5 wget -q -O- http://${OUTSIDE_IP}:8080/ 2>&1; ip -o -4 addr show eth0`]);
    // httpd answers 404 for the missing page: the request arrived and was answered.
    expect(r.stdout).toContain('404');
    const containerIp = /inet (10\.89\.0\.\d+)\//.exec(r.stdout)?.[1];
    expect(containerIp).toBeDefined();
    expect(httpdLog).toContain(HOST_IP);
    expect(httpdLog).not.toContain(containerIp!);
    const rules = tagged('tsbuild', '10.89.0.0/24');
    expect(rules).toHaveLength(4);
    expect(rules.join('\n')).toMatch(/-A TSBUILD-POSTROUTING -s 10\.89\.0\.0\/24 ! -d 224\.0\.0\.0\/4 .*-j MASQUERADE/);
    expect(iptablesSave()).toMatch(/^-A FORWARD -j TSBUILD-FORWARD$/m);
    // Nothing per container: no rule names its address.
    expect(iptablesSave()).not.toContain(`${containerIp}/32`);
  });

  it('adds the rules of a new network at its first container and removes them with the network; --internal gets no NAT', async () => {
    await t.ok(['network', 'create', '--subnet', '10.89.238.0/24', 'rules-nat']);
    await t.ok(['network', 'create', '--internal', '--subnet', '10.89.232.0/24', 'rules-int']);
    expect(tagged('rules-nat', '10.89.238.0/24')).toHaveLength(0);
    await t.ok(['run', '--rm', '--network', 'rules-nat', 'busybox-base', 'true']);
    await t.ok(['run', '--rm', '--network', 'rules-int', 'busybox-base', 'true']);
    expect(tagged('rules-nat', '10.89.238.0/24')).toHaveLength(4);
    const internal = tagged('rules-int', '10.89.232.0/24');
    expect(internal).toHaveLength(2);
    expect(internal.join('\n')).not.toContain('MASQUERADE');
    // A second container on it adds nothing.
    await t.ok(['run', '--rm', '--network', 'rules-nat', 'busybox-base', 'true']);
    expect(tagged('rules-nat', '10.89.238.0/24')).toHaveLength(4);
    await t.ok(['network', 'rm', 'rules-nat']);
    await t.ok(['network', 'rm', 'rules-int']);
    expect(tagged('rules-nat', '10.89.238.0/24')).toHaveLength(0);
    expect(tagged('rules-int', '10.89.232.0/24')).toHaveLength(0);
  });

  it('puts back rules removed behind its back at the next start', async () => {
    for (const line of tagged('tsbuild', '10.89.0.0/24').filter((l) => l.includes('MASQUERADE'))) {
      sh(['iptables', '-t', 'nat', ...line.replace(/^-A /, '-D ').match(/"[^"]*"|\S+/g)!.map((a) => a.replace(/^"|"$/g, ''))]);
    }
    expect(tagged('tsbuild', '10.89.0.0/24')).toHaveLength(3);
    await t.ok(['run', '--rm', 'busybox-base', 'true']);
    expect(tagged('tsbuild', '10.89.0.0/24')).toHaveLength(4);
  });
});
