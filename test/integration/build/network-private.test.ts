// bud --network private|bridge|NAME: every RUN gets a network namespace of its own on a tsbuild
// network (CNI bridge), can reach this host through the bridge's gateway, and leaves no namespace,
// veth or iptables rule behind, also when the RUN fails or the build is interrupted. The page is
// served by this test on the gateway address (traffic stays on this machine).
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/log.js';
import { IPAM_DIR } from '../../../src/network/cni.js';
import { createNetworkManager, type NetworkRecord } from '../../../src/network/index.js';
import { openStores } from '../../../src/store/root.js';
import { Contexts, bud, budOk, setupRoot, sh, startCli, teardownRoot, type TestRoot } from './helpers.js';

let t: TestRoot;
const contexts = new Contexts();
let server: Server | undefined;
let port: number;
let gateway: string;
const USER_NETWORK = `budnet-${process.pid}`;
let userNetwork: NetworkRecord | undefined;

beforeAll(async () => {
  t = await setupRoot();
  // The default network exists before the build, so the page can be served on its gateway.
  const stores = await openStores({ root: t.root, logger: silentLogger() });
  const networks = createNetworkManager(stores);
  gateway = (await networks.get('tsbuild')).gateway;
  userNetwork = await networks.create(USER_NETWORK);
  server = createServer((_req, res) => res.end('served on the gateway\n'));
  await new Promise<void>((resolve, reject) => server!.once('error', reject).listen(0, gateway, resolve));
  port = (server.address() as AddressInfo).port;
}, 120_000);

afterAll(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  if (t && userNetwork) {
    const stores = await openStores({ root: t.root, logger: silentLogger() });
    await createNetworkManager(stores).remove(USER_NETWORK, { force: true }).catch(() => undefined);
  }
  await contexts.cleanup();
  await teardownRoot(t);
});

/** What a RUN prints about its network: eth0's address, its namespace inode, the host-side veth index. */
const PROBE = 'ip -4 -o addr show eth0 | awk "{print \\$4}"; readlink /proc/self/ns/net; cat /sys/class/net/eth0/iflink';

interface Probe {
  cidr: string;
  netns: string;
  vethIndex: number;
}

function parseProbe(text: string): Probe {
  const m = /(\d+\.\d+\.\d+\.\d+\/\d+)\n(net:\[\d+\])\n(\d+)\n/.exec(text);
  if (!m) throw new Error(`no network probe in:\n${text}`);
  return { cidr: m[1]!, netns: m[2]!, vethIndex: Number(m[3]) };
}

/**
 * Fails when anything of the RUN's network is still there: a namespace holding its address, its
 * host-side veth, its IP lease, an iptables rule for its address. (Namespace inodes are reused at
 * once, so the address identifies the namespace.)
 */
function expectGone(p: Probe, network = 'tsbuild'): void {
  const ip = p.cidr.split('/')[0]!;
  const holders = readdirSync('/run/netns').filter((name) => {
    try {
      return execFileSync('ip', ['-n', name, '-o', '-4', 'addr', 'show'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).includes(` ${ip}/`);
    } catch {
      return false;
    }
  });
  expect(holders).toEqual([]);
  const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
  expect(links.split('\n').map((l) => Number(l.split(':')[0]))).not.toContain(p.vethIndex);
  expect(existsSync(path.join(IPAM_DIR, network, ip))).toBe(false);
  const rules = execFileSync('iptables-save', { encoding: 'utf8' });
  expect(rules).not.toMatch(new RegExp(`${ip.replace(/\./g, '\\.')}\\b`));
}

function inSubnet(cidr: string, subnet: string): boolean {
  const [net, bits] = subnet.split('/');
  const n = (s: string): number => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const mask = 2 ** 32 - 2 ** (32 - Number(bits));
  return (n(cidr.split('/')[0]!) & mask) >>> 0 === (n(net!) & mask) >>> 0;
}

describe('bud --network private', () => {
  it('gives each RUN an eth0 on the default network that reaches this host through the gateway', async () => {
    const ctx = await contexts.make({
      Containerfile: [
        'FROM busybox-base',
        `RUN (${PROBE}) > /probe.txt`,
        `RUN wget -q -O /page.txt http://host.containers.internal:${port}/ && grep host.containers.internal /etc/hosts > /hosts.txt`,
        `RUN (${PROBE}) > /probe2.txt`,
      ].join('\n'),
    });
    await budOk(t, ctx, ['--network', 'private', '--no-cache', '-t', 'net-private']);
    const first = parseProbe(await sh(t, 'net-private', 'cat /probe.txt'));
    const second = parseProbe(await sh(t, 'net-private', 'cat /probe2.txt'));
    expect(first.cidr).toMatch(/^10\.89\.0\.\d+\/24$/);
    expect(inSubnet(first.cidr, '10.89.0.0/24')).toBe(true);
    // A namespace (and veth) of each RUN's own, not one shared by the build.
    expect(second.vethIndex).not.toBe(first.vethIndex);
    expect(await sh(t, 'net-private', 'cat /page.txt')).toBe('served on the gateway\n');
    expect(await sh(t, 'net-private', 'cat /hosts.txt')).toBe(`${gateway}\thost.containers.internal\n`);
    expectGone(first);
    expectGone(second);
  }, 120_000);

  it('attaches RUNs to a named network (and bridge means the default one)', async () => {
    const ctx = await contexts.make({ Containerfile: `FROM busybox-base\nRUN (${PROBE}) > /probe.txt; cat /hv/file > /seen.txt || true\n` });
    // bud --volume binds into the RUN as well on a network of its own.
    const hostDir = await contexts.make({ file: 'from the host\n' });
    await budOk(t, ctx, ['--network', USER_NETWORK, '-v', `${hostDir}:/hv:ro`, '--no-cache', '-t', 'net-named']);
    expect(await sh(t, 'net-named', 'cat /seen.txt; ls /hv 2>&1 | grep -c "No such"')).toBe('from the host\n1\n');
    const named = parseProbe(await sh(t, 'net-named', 'cat /probe.txt'));
    expect(inSubnet(named.cidr, userNetwork!.subnet)).toBe(true);
    expectGone(named, USER_NETWORK);
    await budOk(t, ctx, ['--network', 'bridge', '--no-cache', '-t', 'net-bridge']);
    expect(inSubnet(parseProbe(await sh(t, 'net-bridge', 'cat /probe.txt')).cidr, '10.89.0.0/24')).toBe(true);
  }, 120_000);

  it('keeps RUN --network=none and host as they are, and caches per network', async () => {
    const ctx = await contexts.make({
      Containerfile: 'FROM busybox-base\nRUN --network=none ls /sys/class/net > /none.txt\nRUN cat /sys/class/net/eth0/address > /mac.txt\n',
    });
    const first = await budOk(t, ctx, ['--network', 'private', '-t', 'net-mixed']);
    expect(await sh(t, 'net-mixed', 'cat /none.txt')).toBe('lo\n');
    // The same build on the host network is not served from the private build's cache.
    const onHost = await budOk(t, ctx, ['--network', 'host', '-t', 'net-mixed-host']);
    expect(onHost.stdout.match(/Using cache/g)?.length ?? 0).toBe(1);
    expect(first.stdout).not.toContain('Using cache');
  }, 120_000);

  it('tears the namespace down after a failing RUN, and after an interrupted build', async () => {
    const failing = await contexts.make({ Containerfile: `FROM busybox-base\nRUN (${PROBE}) >&2; exit 3\n` });
    const result = await bud(t, failing, ['--network', 'private', '--no-cache']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('RUN exited with status 3');
    expectGone(parseProbe(result.stderr));

    const slow = await contexts.make({ Containerfile: `FROM busybox-base\nRUN (${PROBE}); echo pro""bed; sleep 60\n` });
    const cli = startCli(t, ['bud', '--network', 'private', '--no-cache', slow]);
    await cli.waitForOutput('probed');
    cli.kill('SIGINT');
    const interrupted = await cli.exited;
    expect(interrupted.code).not.toBe(0);
    expectGone(parseProbe(interrupted.stdout));

    // SIGKILL leaves everything in place, and no record names it: the next command's start-up
    // recovery releases it (the RUN's runc container first, then its network).
    const killed = startCli(t, ['bud', '--network', 'private', '--no-cache', slow]);
    await killed.waitForOutput('probed');
    killed.kill('SIGKILL');
    const probe = parseProbe((await killed.exited).stdout);
    expect(existsSync(path.join(IPAM_DIR, 'tsbuild', probe.cidr.split('/')[0]!))).toBe(true);
    await budOk(t, await contexts.make({ Containerfile: 'FROM busybox-base\n' }), ['-q']);
    expectGone(probe);
  }, 120_000);

  it('rejects a network that does not exist, and modes builds do not support, before building', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\nRUN true\n' });
    const missing = await bud(t, ctx, ['--network', 'no-such-net']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/^Error: .*no-such-net/m);
    expect(missing.stdout).not.toContain('STEP');
    const unsupported = await bud(t, ctx, ['--network', 'container:abc']);
    expect(unsupported.stderr).toContain('Error: --network container:abc: not supported for builds');
  }, 60_000);
});
