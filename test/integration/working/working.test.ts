// buildah's working-container workflow through the real CLI: from → copy → config → wc run →
// commit → run, with real runc and overlayfs, plus mount/umount, commit of a run container, scratch,
// and the errors a user sees.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectJson, mountsUnder, setupRoot, teardownRoot, type TestRoot } from '../build/helpers.js';
import { BUSYBOX } from '../../helpers/tsbuild.js';
import { ipamFiles } from '../network/helpers.js';

let t: TestRoot;
let host: string;

beforeAll(async () => {
  t = await setupRoot();
  host = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-wc-'));
  await writeFile(path.join(host, 'hello'), 'hello from the host\n');
}, 120_000);

afterAll(async () => {
  await rm(host, { recursive: true, force: true });
  await teardownRoot(t);
});

/** Paths in the last layer of an image (from its layer tar). */
async function lastLayerPaths(image: string): Promise<string[]> {
  const layers = await inspectJson<string[]>(t, image, 'RootFS.Layers');
  const blob = path.join(t.root, 'blobs', 'sha256', layers[layers.length - 1]!.replace('sha256:', ''));
  return execFileSync('tar', ['-tf', blob], { encoding: 'utf8' }).split('\n').filter(Boolean).map((p) => p.replace(/^\.\//, '').replace(/\/$/, ''));
}

describe('working containers', () => {
  it('from, copy, config, wc run and commit make an image that run runs', async () => {
    const ctr = (await t.ok(['from', 'busybox-base'])).stdout.trim();
    expect(ctr).toBe('busybox-base-working-container');
    await t.ok(['copy', ctr, path.join(host, 'hello'), '/hello']);
    await t.ok(['config', '--cmd', '["cat","/hello"]', '--env', 'A=1', '--label', 'x=y', ctr]);
    const run = await t.run(['wc', 'run', ctr, '--', 'sh', '-c', 'echo built > /built; echo $A; exit 3']);
    expect(run.stdout).toBe('1\n');
    expect(run.code).toBe(3);
    // Without "--" the command after the container is still the container's (buildah's rule).
    expect((await t.ok(['wc', 'run', ctr, 'sh', '-c', 'cat /built'])).stdout).toBe('built\n');
    const id = (await t.ok(['commit', ctr, 'myimg'])).stdout.trim();
    expect(id).toMatch(/^[a-f0-9]{64}$/);

    expect((await t.ok(['run', '--rm', 'myimg'])).stdout).toBe('hello from the host\n');
    expect((await t.ok(['run', '--rm', 'myimg', 'cat', '/built'])).stdout).toBe('built\n');
    const config = await inspectJson<{ Cmd: string[]; Env: string[]; Labels: Record<string, string> }>(t, 'myimg', 'Config');
    expect(config.Cmd).toEqual(['cat', '/hello']);
    expect(config.Env).toContain('A=1');
    expect(config.Labels).toEqual({ x: 'y' });
    const files = await lastLayerPaths('myimg');
    expect(files).toContain('hello');
    expect(files).toContain('built');
    for (const placeholder of ['proc', 'dev', 'sys', 'etc/hosts', 'etc/resolv.conf', 'etc/hostname']) expect(files).not.toContain(placeholder);
    const history = await inspectJson<unknown[]>(t, 'myimg', 'History');
    expect(history.length).toBeGreaterThan(1);

    // A second from of the same image gets the next buildah name; wc rm removes it.
    const second = (await t.ok(['wc', 'from', 'busybox-base'])).stdout.trim();
    expect(second).toBe('busybox-base-working-container-1');
    const list = (await t.ok(['containers'])).stdout;
    expect(list).toMatch(/CONTAINER ID\s+BUILDER\s+IMAGE ID\s+IMAGE NAME\s+CONTAINER NAME/);
    expect(list).toContain(ctr);
    await t.ok(['wc', 'rm', second, ctr]);
    expect((await t.ok(['containers', '-q'])).stdout).toBe('');
    expect(await mountsUnder(t.root)).toEqual([]);
  }, 120_000);

  it('wc run --network private gives the command a namespace of its own on the default network, removed afterwards', async () => {
    const ctr = (await t.ok(['from', '--name', 'netwc', 'busybox-base'])).stdout.trim();
    try {
      const ip = (await t.ok(['wc', 'run', '--network', 'private', ctr, '--', 'sh', '-c', "ip -4 -o addr show eth0 | awk '{print $4}'"])).stdout.trim();
      expect(ip).toMatch(/^10\.89\.0\.\d+\/24$/);
      // Released afterwards: no IP lease (host-local's file per address) and no rule for the address.
      const address = ip.split('/')[0]!;
      expect(await ipamFiles('tsbuild')).not.toContain(address);
      expect(execFileSync('iptables-save', { encoding: 'utf8' })).not.toContain(`${address}/32`);
      expect((await t.ok(['wc', 'run', '--network', 'none', ctr, '--', 'sh', '-c', 'ls /sys/class/net'])).stdout).toBe('lo\n');
    } finally {
      await t.run(['wc', 'rm', ctr]);
    }
  });

  it('config edits follow buildah: shell-string cmd, entrypoint via sh -c, removals; commit --change', async () => {
    const ctr = (await t.ok(['from', '--name', 'cfg', 'busybox-base'])).stdout.trim();
    expect(ctr).toBe('cfg');
    await t.ok(['config', '--cmd', 'echo "a b" c', '--entrypoint', '/bin/echo hi', '--env', 'A=1', '--env', 'B=2', '--label', 'l=1', '--port', '8080', '--user', 'root', '--workingdir', '/srv', '--volume', '/data', '--author', 'me', '--stop-signal', 'SIGINT', ctr]);
    await t.ok(['config', '--env', 'A-', '--label', 'l-', ctr]);
    const wc = JSON.parse((await t.ok(['wc', 'inspect', ctr])).stdout) as { Type: string; Container: string; FromImage: string; OCIv1: { author: string; config: Record<string, unknown> } };
    expect(wc.Type).toContain('buildah');
    expect(wc.Container).toBe('cfg');
    expect(wc.FromImage).toBe('localhost/busybox-base:latest');
    const c = wc.OCIv1.config;
    expect(c.Cmd).toEqual(['echo', 'a b', 'c']);
    expect(c.Entrypoint).toEqual(['/bin/sh', '-c', '/bin/echo hi']);
    expect(c.Env).toEqual(expect.arrayContaining(['B=2']));
    expect(c.Env).not.toEqual(expect.arrayContaining(['A=1']));
    expect(c.Labels).toEqual({});
    expect(c.ExposedPorts).toEqual({ '8080/tcp': {} });
    expect(c.WorkingDir).toBe('/srv');
    expect(c.Volumes).toEqual({ '/data': {} });
    expect(c.StopSignal).toBe('SIGINT');
    expect(wc.OCIv1.author).toBe('me');
    // wc run uses the working dir of the config.
    expect((await t.ok(['wc', 'run', ctr, '--', 'pwd'])).stdout).toBe('/srv\n');
    await t.ok(['commit', '--rm', '-q', '-m', 'msg', '-c', 'CMD ["x"]', '-c', 'ENV C=3', '-f', 'docker', ctr, 'cfgimg']);
    const config = await inspectJson<{ Cmd: string[]; Env: string[] }>(t, 'cfgimg', 'Config');
    expect(config.Cmd).toEqual(['x']);
    expect(config.Env).toContain('C=3');
    expect(await inspectJson<string>(t, 'cfgimg', 'ManifestType')).toContain('docker');
    expect((await t.run(['wc', 'inspect', ctr])).code).toBe(125);
  }, 120_000);

  it('mount prints a path holding the container\'s files; umount removes the mount', async () => {
    const ctr = (await t.ok(['from', 'busybox-base'])).stdout.trim();
    await t.ok(['copy', ctr, path.join(host, 'hello'), '/opt/']);
    const mnt = (await t.ok(['mount', ctr])).stdout.trim();
    expect(await readFile(path.join(mnt, 'opt', 'hello'), 'utf8')).toBe('hello from the host\n');
    expect(existsSync(path.join(mnt, 'bin', 'busybox'))).toBe(true);
    expect(await mountsUnder(t.root)).toContain(mnt);
    // Written through the mount, committed with the container.
    await writeFile(path.join(mnt, 'via-mount'), 'x');
    // A wc run keeps a user mount mounted.
    await t.ok(['wc', 'run', ctr, '--', 'true']);
    expect(await mountsUnder(t.root)).toContain(mnt);
    expect((await t.ok(['mount'])).stdout).toBe(`${ctr} ${mnt}\n`);
    await t.ok(['umount', ctr]);
    expect(await mountsUnder(t.root)).toEqual([]);
    await t.ok(['commit', '--rm', ctr, 'mounted']);
    expect((await t.ok(['run', '--rm', 'mounted', 'cat', '/via-mount', '/opt/hello'])).stdout).toBe('xhello from the host\n');
  }, 120_000);

  it('commits while a command runs in the container; umount then leaves the rootfs to the run', async () => {
    const ctr = (await t.ok(['from', 'busybox-base'])).stdout.trim();
    // The command runs until the test says so (a file appearing in the rootfs), however slow the machine.
    const running = t.run(['wc', 'run', ctr, '--', 'sh', '-c', 'echo a > /a; while [ ! -e /go ]; do sleep 0.1; done']);
    let mnt = '';
    for (let i = 0; i < 50 && mnt === ''; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const listed = (await t.ok(['mount'])).stdout.trim();
      if (listed !== '') {
        const candidate = listed.split(' ')[1]!;
        if (existsSync(path.join(candidate, 'a'))) mnt = candidate;
      }
    }
    expect(mnt).not.toBe('');
    await t.ok(['commit', ctr, 'live']);
    // The run still uses the rootfs: umount only drops the user's hold.
    await t.ok(['mount', ctr]);
    await t.ok(['umount', ctr]);
    expect(await mountsUnder(t.root)).toContain(mnt);
    await writeFile(path.join(mnt, 'go'), '');
    expect((await running).code).toBe(0);
    expect(await mountsUnder(t.root)).toEqual([]);
    expect((await t.ok(['run', '--rm', 'live', 'cat', '/a'])).stdout).toBe('a\n');
    await t.ok(['wc', 'rm', ctr]);
  }, 120_000);

  it('commits a run container with what its command wrote', async () => {
    await t.ok(['run', '--name', 'x', 'busybox-base', 'sh', '-c', 'echo hi > /f']);
    const containers = (await t.ok(['containers', '-a'])).stdout;
    expect(containers).toContain(' x\n');
    await t.ok(['commit', 'x', 'img2']);
    expect((await t.ok(['run', '--rm', 'img2', 'cat', '/f'])).stdout).toBe('hi\n');
    const files = await lastLayerPaths('img2');
    expect(files).toContain('f');
    for (const placeholder of ['proc', 'dev', 'sys', 'etc/hosts']) expect(files).not.toContain(placeholder);
    await t.ok(['rm', 'x']);
  }, 120_000);

  it('commits a running detached container, as podman does', async () => {
    await t.ok(['run', '-d', '--name', 'live-run', 'busybox-base', 'sh', '-c', 'echo hi > /g; sleep 30']);
    try {
      let ok = false;
      for (let i = 0; i < 50 && !ok; i++) {
        const mnt = (await t.ok(['mount', 'live-run'])).stdout.trim();
        ok = existsSync(path.join(mnt, 'g'));
        if (!ok) await new Promise((r) => setTimeout(r, 100));
      }
      expect(ok).toBe(true);
      await t.ok(['umount', 'live-run']);
      // Still running: its rootfs stays mounted.
      expect((await t.ok(['mount'])).stdout).toContain('live-run ');
      await t.ok(['commit', '-c', 'CMD ["cat","/g"]', 'live-run', 'img3']);
      expect((await t.ok(['run', '--rm', 'img3'])).stdout).toBe('hi\n');
    } finally {
      await t.run(['rm', '-f', 'live-run']);
    }
    expect(await mountsUnder(t.root)).toEqual([]);
  }, 120_000);

  it('top-level rm removes a mounted working container and its mount', async () => {
    const ctr = (await t.ok(['from', 'busybox-base'])).stdout.trim();
    await t.ok(['mount', ctr]);
    await t.ok(['rm', ctr]);
    expect(await mountsUnder(t.root)).toEqual([]);
    expect((await t.ok(['containers', '-q'])).stdout).toBe('');
  }, 120_000);

  it('from scratch plus a copied busybox makes a runnable image', async () => {
    const ctr = (await t.ok(['from', 'scratch'])).stdout.trim();
    expect(ctr).toBe('working-container');
    await t.ok(['copy', ctr, BUSYBOX, '/bin/busybox']);
    await t.ok(['wc', 'run', ctr, '--', '/bin/busybox', 'sh', '-c', '/bin/busybox --install -s /bin && echo ok > /ok']);
    await t.ok(['config', '--cmd', '["/bin/cat","/ok"]', ctr]);
    await t.ok(['commit', '--rm', ctr, 'fromscratch']);
    expect((await t.ok(['run', '--rm', 'fromscratch'])).stdout).toBe('ok\n');
    const files = await lastLayerPaths('fromscratch');
    expect(files).toContain('bin/busybox');
    for (const placeholder of ['proc', 'dev', 'sys', 'etc']) expect(files).not.toContain(placeholder);
  }, 120_000);

  it('add unpacks a local tar archive', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-wc-tar-'));
    try {
      await writeFile(path.join(dir, 'inner.txt'), 'inside\n');
      execFileSync('tar', ['-czf', path.join(host, 'a.tar.gz'), '-C', dir, 'inner.txt']);
      const ctr = (await t.ok(['from', 'busybox-base'])).stdout.trim();
      await t.ok(['add', ctr, path.join(host, 'a.tar.gz'), '/unpacked']);
      expect((await t.ok(['wc', 'run', ctr, '--', 'cat', '/unpacked/inner.txt'])).stdout).toBe('inside\n');
      await t.ok(['wc', 'rm', ctr]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('unknown containers and images fail with one line and exit 125', async () => {
    for (const args of [['from', 'no-such-image'], ['copy', 'nope', '/etc/hostname', '/x'], ['config', '--cmd', 'x', 'nope'], ['commit', 'nope'], ['mount', 'nope'], ['umount', 'nope'], ['wc', 'run', 'nope', '--', 'true'], ['wc', 'rm', 'nope'], ['wc', 'inspect', 'nope']]) {
      const r = await t.run(args);
      expect(r.code, args.join(' ')).toBe(125);
      expect(r.stderr.split('\n')[0], args.join(' ')).toMatch(/^Error: .*(nope|no-such-image)/);
      expect(r.stderr, args.join(' ')).not.toMatch(/\n\s+at /);
    }
    const ctr = (await t.ok(['from', 'busybox-base'])).stdout.trim();
    const bad = await t.run(['config', '--port', 'abc', ctr]);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toMatch(/^Error: --port abc/);
    await t.ok(['wc', 'rm', ctr]);
  }, 120_000);
});
