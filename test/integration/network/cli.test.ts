// End to end through the CLI with real runc, CNI plugins and iptables: a published busybox httpd
// fetched from 127.0.0.1, containers on a user network finding each other by name and alias, and
// nothing left on the host (veth, netns, iptables rule, IP lease) after `rm -f`.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IPAM_DIR } from '../../../src/network/records.js';
import { buildBusyboxBase, createTestRoot, makeContext, type TestRoot } from '../../helpers/tsbuild.js';
import { get, ipamFiles, iptablesSave, leasedTo, links } from './helpers.js';

let t: TestRoot;
const IMAGE = 'nettest-www';

beforeAll(async () => {
  t = await createTestRoot();
  await buildBusyboxBase(t);
  const context = await makeContext({ Containerfile: 'FROM busybox-base\nRUN mkdir /www && echo "hello from web" > /www/index.html\n' });
  await t.ok(['bud', '-q', '-t', IMAGE, context]);
});

afterAll(async () => {
  if (!t) return;
  const ids = (await t.run(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
  if (ids.length > 0) await t.run(['rm', '-f', ...ids]);
  for (const n of ['nettest-app', 'nettest-gone', 'nettest-cli', 'nettest-cli2']) await t.run(['network', 'rm', '-f', n]);
  await t.cleanup();
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

async function fetchWithRetry(url: string): Promise<{ status: number; body: string }> {
  let last: unknown;
  for (let i = 0; i < 50; i++) {
    try {
      return await get(url);
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw last;
}

async function inspect(name: string, field: string): Promise<string> {
  return (await t.ok(['inspect', '-f', `{{${field}}}`, name])).stdout.trim();
}

async function expectNoTrace(ip: string, namespace: string, network: string): Promise<void> {
  const nsName = namespace.split('/').pop()!;
  expect(await readdir('/run/netns').catch(() => [])).not.toContain(nsName);
  const rules = iptablesSave();
  expect(rules).not.toContain(`${ip}/`);
  expect(rules).not.toContain(`${ip}:`);
  expect(await ipamFiles(network)).not.toContain(ip);
  expect(links()).not.toContain(nsName);
}

describe('tsbuild run with networks', () => {
  it('serves a page on a published 127.0.0.1 port; rm -f leaves no netns, rule or lease', async () => {
    const port = await freePort();
    await t.ok(['run', '-d', '--name', 'web1', '-p', `127.0.0.1:${port}:80`, IMAGE, 'httpd', '-f', '-p', '80', '-h', '/www']);
    const ip = await inspect('web1', '.NetworkSettings.IPAddress');
    const namespace = await inspect('web1', '.NetworkSettings.SandboxKey');
    expect(ip).toMatch(/^10\.89\.0\.\d+$/);
    expect(await fetchWithRetry(`http://127.0.0.1:${port}/`)).toEqual({ status: 200, body: 'hello from web\n' });
    expect(iptablesSave()).toContain(`--dport ${port} `);

    // A second container cannot have the same host port.
    const clash = await t.run(['run', '-d', '--name', 'web1b', '-p', `127.0.0.1:${port}:80`, IMAGE, 'httpd', '-f', '-p', '80', '-h', '/www']);
    expect(clash.code).toBe(125);
    expect(clash.stderr).toContain(`port ${port} is already in use`);
    // The run that failed leaves no container record behind.
    expect((await t.run(['inspect', '--type', 'container', 'web1b'])).code).toBe(125);

    await t.ok(['rm', '-f', 'web1']);
    await expectNoTrace(ip, namespace, 'tsbuild');
    expect(iptablesSave()).not.toContain(`--dport ${port} `);
  });

  it('starts the container only once its network is up: its own address is in its /etc/hosts', async () => {
    // runc starts beside the CNI ADD and is held by the start gate (container/start-gate.ts) until
    // the address is known and written into the container's /etc/hosts.
    const out = (await t.ok(['run', '--rm', '--hostname', 'gated', IMAGE, 'sh', '-c', 'ip -4 -o addr show eth0; cat /etc/hosts'])).stdout;
    const ip = /inet (10\.89\.0\.\d+)\//.exec(out)?.[1];
    expect(ip).toBeDefined();
    expect(out).toContain(`${ip}\tgated`);
  });

  it('never runs the command of a container whose network fails after its namespace exists, and leaves nothing', async () => {
    // A bridge name longer than IFNAMSIZ: the bridge plugin refuses it, after runc has started.
    await mkdir(path.join(t.root, 'networks'), { recursive: true });
    await writeFile(path.join(t.root, 'networks', 'nettest-broken.json'), JSON.stringify({
      name: 'nettest-broken', id: 'e'.repeat(64), driver: 'bridge', bridge: 'this-bridge-name-is-too-long', subnet: '10.89.239.0/24',
      gateway: '10.89.239.1', internal: false, labels: {}, created: new Date().toISOString(),
    }));
    const out = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-gate-'));
    try {
      const run = await t.run(['run', '--rm', '--name', 'gated-broken', '--network', 'nettest-broken', '-v', `${out}:/out`, IMAGE, 'touch', '/out/ran']);
      expect(run.code).toBe(125);
      expect(run.stderr).toMatch(/^Error: .*CNI plugin bridge failed \(ADD on network "nettest-broken"\)/);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(existsSync(path.join(out, 'ran'))).toBe(false);
      expect((await t.ok(['ps', '-a', '--format', '{{.Names}}'])).stdout).not.toContain('gated-broken');
      expect(await readdir(path.join(t.root, 'runc')).catch(() => [])).toEqual([]);
      expect(await readdir(path.join(t.root, 'networks', 'cache')).catch(() => [])).toEqual([]);
      // The same through create + start (a detached start), where the record stays and names the namespace.
      const id = (await t.ok(['create', '--name', 'gated-broken2', '--network', 'nettest-broken', '-v', `${out}:/out`, IMAGE, 'touch', '/out/ran'])).stdout.trim();
      const start = await t.run(['start', 'gated-broken2']);
      expect(start.code).toBe(125);
      expect(start.stderr).toContain('CNI plugin bridge failed (ADD on network "nettest-broken")');
      expect(existsSync(path.join(out, 'ran'))).toBe(false);
      expect(existsSync(`/run/netns/tsbuild-${id.slice(0, 12)}`)).toBe(false);
      expect(existsSync(path.join(t.root, 'networks', 'cache', id))).toBe(false);
      expect(existsSync(path.join(t.root, 'runc', id))).toBe(false);
      await t.ok(['rm', 'gated-broken2']);
    } finally {
      await rm(out, { recursive: true, force: true });
      await t.run(['network', 'rm', '-f', 'nettest-broken']);
    }
  });

  it('lets containers on a user network reach each other by name and alias', async () => {
    await t.ok(['network', 'create', 'nettest-app']);
    await t.ok(['run', '-d', '--name', 'web', '--network', 'nettest-app', '--network-alias', 'www', IMAGE, 'httpd', '-f', '-p', '80', '-h', '/www']);
    const ip = await inspect('web', '.NetworkSettings.IPAddress');
    const namespace = await inspect('web', '.NetworkSettings.SandboxKey');
    const client = ['run', '--rm', '--network', 'nettest-app', IMAGE, 'sh', '-c'];
    const byName = await t.ok([...client, 'for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://web/ && exit 0; sleep 0.2; done; exit 1']);
    expect(byName.stdout).toBe('hello from web\n');
    expect((await t.ok([...client, 'wget -qO- http://www/'])).stdout).toBe('hello from web\n');
    expect((await t.ok([...client, 'cat /etc/hosts'])).stdout).toMatch(new RegExp(`${ip.replace(/\./g, '\\.')}\\tweb www [0-9a-f]{12}`));

    const inUse = await t.run(['network', 'rm', 'nettest-app']);
    expect(inUse.code).toBe(125);
    expect(inUse.stderr).toContain('Error: network "nettest-app" is in use by container(s) web');
    const inspected = JSON.parse((await t.ok(['network', 'inspect', 'nettest-app'])).stdout) as { containers: string[] }[];
    expect(inspected[0]!.containers).toEqual(['web']);

    await t.ok(['rm', '-f', 'web']);
    await expectNoTrace(ip, namespace, 'nettest-app');
    const bridge = JSON.parse((await t.ok(['network', 'inspect', 'nettest-app'])).stdout)[0].bridge as string;
    expect(existsSync(path.join(IPAM_DIR, 'nettest-app'))).toBe(true);
    await t.ok(['network', 'rm', 'nettest-app']);
    expect(links()).not.toContain(`${bridge}:`);
    expect(existsSync(path.join(IPAM_DIR, 'nettest-app'))).toBe(false);
    expect((await t.ok(['network', 'ls', '-q'])).stdout).toBe('tsbuild\n');
  });

  it('leaves no namespace, lease or cached attachment after a start that fails past the network set-up', async () => {
    // create + start: the record stays (a failed `run` removes its container) so its ID is known.
    const id = (await t.ok(['create', '--name', 'broken-start', '--network', 'tsbuild', IMAGE, '/no/such/command'])).stdout.trim();
    const failed = await t.run(['start', 'broken-start']);
    expect(failed.code).toBe(127);
    expect(existsSync(`/run/netns/tsbuild-${id.slice(0, 12)}`)).toBe(false);
    expect(await leasedTo(id)).toEqual([]);
    expect(existsSync(path.join(t.root, 'networks', 'cache', id))).toBe(false);
    await t.ok(['rm', 'broken-start']);
  });

  it('releases the network of a container whose monitor was killed with SIGKILL', async () => {
    const port = await freePort();
    await t.ok(['run', '-d', '--name', 'orphan', '-p', `127.0.0.1:${port}:80`, IMAGE, 'httpd', '-f', '-p', '80', '-h', '/www']);
    const id = await inspect('orphan', '.Id');
    const ip = await inspect('orphan', '.NetworkSettings.IPAddress');
    const namespace = await inspect('orphan', '.NetworkSettings.SandboxKey');
    const { readFile } = await import('node:fs/promises');
    const record = JSON.parse(await readFile(path.join(t.root, 'containers', id, 'container.json'), 'utf8')) as { monitor: { pid: number } };
    process.kill(record.monitor.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    expect((await t.ok(['ps', '-a', '--format', 'json'])).stdout).toContain('exited');
    await expectNoTrace(ip, namespace, 'tsbuild');
    expect(iptablesSave()).not.toContain(`--dport ${port} `);
    expect(await leasedTo(id)).toEqual([]);
    await t.ok(['rm', 'orphan']);
  });

  it('connects a running container to a second network; its peers there find it', async () => {
    await t.ok(['network', 'create', 'nettest-gone']);
    await t.ok(['run', '-d', '--name', 'web2', '--network', 'tsbuild', IMAGE, 'httpd', '-f', '-p', '80', '-h', '/www']);
    await t.ok(['network', 'connect', '--alias', 'late', 'nettest-gone', 'web2']);
    const reached = await t.ok(['run', '--rm', '--network', 'nettest-gone', IMAGE, 'wget', '-qO-', 'http://late/']);
    expect(reached.stdout).toBe('hello from web\n');
    await t.ok(['network', 'disconnect', 'nettest-gone', 'web2']);
    const gone = await t.run(['run', '--rm', '--network', 'nettest-gone', IMAGE, 'wget', '-T', '1', '-qO-', 'http://late/']);
    expect(gone.code).not.toBe(0);
    await t.ok(['rm', '-f', 'web2']);
    await t.ok(['network', 'rm', 'nettest-gone']);
  });
});

describe('tsbuild network', () => {
  it('creates, lists, inspects and removes networks, with clear errors', async () => {
    expect((await t.ok(['network', 'create', '--subnet', '10.89.236.0/24', '--gateway', '10.89.236.254', '--label', 'team=web', 'nettest-cli'])).stdout).toBe('nettest-cli\n');
    const dup = await t.run(['network', 'create', 'nettest-cli']);
    expect([dup.code, dup.stderr]).toEqual([125, 'Error: network "nettest-cli" already exists\n']);
    const overlap = await t.run(['network', 'create', '--subnet', '10.89.236.128/25', 'nettest-cli2']);
    expect(overlap.code).toBe(125);
    expect(overlap.stderr).toContain('overlaps network "nettest-cli" (10.89.236.0/24)');
    const bad = await t.run(['network', 'create', 'no/slash']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toContain('invalid network name "no/slash"');
    await t.ok(['network', 'create', '--internal', 'nettest-cli2']);

    const listed = JSON.parse((await t.ok(['network', 'ls', '--format', 'json'])).stdout) as { name: string; subnet: string; gateway: string; internal: boolean; labels: Record<string, string> }[];
    expect(listed.map((n) => n.name)).toEqual(['nettest-cli', 'nettest-cli2', 'tsbuild']);
    expect(listed[0]).toMatchObject({ subnet: '10.89.236.0/24', gateway: '10.89.236.254', labels: { team: 'web' } });
    expect(listed[1]!.internal).toBe(true);
    expect(listed[1]!.subnet).toMatch(/^10\.89\.\d+\.0\/24$/);
    expect(listed[2]).toMatchObject({ subnet: '10.89.0.0/24', gateway: '10.89.0.1' });
    expect((await t.ok(['network', 'ls'])).stdout).toMatch(/^NETWORK ID\s+NAME\s+DRIVER\s+SUBNET\s+BRIDGE\n/);
    expect((await t.ok(['network', 'inspect', '-f', '{{.gateway}}', 'nettest-cli'])).stdout).toBe('10.89.236.254\n');
    const bridge = (await t.ok(['network', 'inspect', '-f', '{{.bridge}}', 'nettest-cli'])).stdout.trim();
    expect(links()).toContain(`${bridge}:`);

    const missing = await t.run(['network', 'inspect', 'nettest-nope']);
    expect([missing.code, missing.stderr.split('\n')[0]]).toEqual([125, 'Error: network "nettest-nope" not found']);
    const builtin = await t.run(['network', 'rm', 'tsbuild']);
    expect([builtin.code, builtin.stderr]).toEqual([125, 'Error: the default network "tsbuild" cannot be removed\n']);

    expect((await t.ok(['network', 'prune', '-f'])).stdout).toBe('nettest-cli\nnettest-cli2\n');
    expect((await t.ok(['network', 'ls', '-q'])).stdout).toBe('tsbuild\n');
    expect(links()).not.toContain(`${bridge}:`);
  });

  it('shows examples in --help', async () => {
    for (const sub of ['create', 'ls', 'inspect', 'rm', 'prune', 'connect', 'disconnect']) {
      const help = await t.ok(['network', sub, '--help']);
      expect(help.stdout).toContain('Examples:');
    }
  });
});
