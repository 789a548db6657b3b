// bud's flags for RUN containers and RUN --security, through the real CLI and runc: what the RUN
// can do and see (capabilities, /etc/hosts, resolv.conf, volumes), that none of it reaches the
// image, and that the cache key follows them.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildahAvailable, buildBoth, comparableTree } from '../../helpers/buildah.js';
import { Contexts, bud, budOk, mountsUnder, setupRoot, sh, steps, teardownRoot, type TestRoot } from './helpers.js';

let t: TestRoot;
const contexts = new Contexts();
let hostDir: string;

beforeAll(async () => {
  t = await setupRoot();
  hostDir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-volume-'));
  await writeFile(path.join(hostDir, 'from-host.txt'), 'host file\n');
});

afterAll(async () => {
  await contexts.cleanup();
  await rm(hostDir, { recursive: true, force: true });
  await teardownRoot(t);
});

async function build(tag: string, lines: string[], args: string[] = []) {
  const ctx = await contexts.make({ Containerfile: lines.join('\n') });
  return budOk(t, ctx, ['-t', tag, ...args]);
}

/** CapEff of the RUN's shell, as the hex mask /proc shows. */
const CAP_EFF = "grep CapEff /proc/self/status | cut -f2";

describe('RUN --security', () => {
  it('refuses insecure without --allow security.insecure, naming the line', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\nRUN true\nRUN --security=insecure true\n' });
    const result = await bud(t, ctx, ['-t', 'must-not-exist']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`Error: ${path.join(ctx, 'Containerfile')}:3: RUN --security=insecure needs the security.insecure entitlement`);
    expect(result.stderr).toContain('--allow security.insecure');
  });

  it('runs an insecure RUN with every capability, no masked paths and the host devices', async () => {
    await build(
      'insecure',
      [
        'FROM busybox-base',
        `RUN --security=insecure ${CAP_EFF} > /caps.txt && mkdir /m && mount -t tmpfs none /m && umount /m && rmdir /m && head -c 1 /proc/timer_list | wc -c >> /caps.txt && grep " /sys " /proc/mounts | grep -c rw, >> /caps.txt && ls /dev | grep -c "^loop-control$" >> /caps.txt`,
        `RUN --security=sandbox ${CAP_EFF} > /sandbox.txt && head -c 1 /proc/timer_list | wc -c >> /sandbox.txt`,
      ],
      ['--allow', 'security.insecure'],
    );
    // Every capability tsbuild itself may hand on (some sandboxes withhold CAP_SYS_RESOURCE).
    const all = /^CapBnd:\s*(\w+)$/m.exec(await readFile('/proc/self/status', 'utf8'))![1];
    expect(await sh(t, 'insecure', 'cat /caps.txt')).toBe(`${all}\n1\n1\n1\n`);
    expect(await sh(t, 'insecure', 'cat /sandbox.txt')).toBe('00000000800405fb\n0\n');
  });
});

describe('bud --cap-add / --cap-drop', () => {
  it('adds and drops capabilities of RUN containers, and re-runs the step when they change', async () => {
    const lines = ['FROM busybox-base', `RUN ${CAP_EFF} > /caps.txt`];
    await build('caps-add', lines, ['--cap-add', 'NET_RAW', '--cap-add', 'cap_sys_admin']);
    // buildah's default set (0x800405fb) + NET_RAW (bit 13) + SYS_ADMIN (bit 21)
    expect(await sh(t, 'caps-add', 'cat /caps.txt')).toBe('00000000802425fb\n');
    const dropped = await build('caps-drop', lines, ['--cap-drop', 'ALL', '--cap-add', 'CHOWN']);
    expect(steps(dropped.stdout)[1]).toMatchObject({ cached: false });
    expect(await sh(t, 'caps-drop', 'cat /caps.txt')).toBe('0000000000000001\n');
    const without = await build('caps-drop2', ['FROM busybox-base', 'RUN (chown 1 /tmp && echo chowned || echo refused) > /chown.txt'], ['--cap-drop', 'chown,dac_override,fowner']);
    expect(without.code).toBe(0);
    expect(await sh(t, 'caps-drop2', 'cat /chown.txt')).toBe('refused\n');
  });

  it('rejects an unknown capability and one both added and dropped', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\nRUN true\n' });
    expect((await bud(t, ctx, ['--cap-add', 'CAP_FLY'])).stderr).toContain('Error: --cap-add "CAP_FLY": unknown capability');
    expect((await bud(t, ctx, ['--cap-add', 'NET_RAW', '--cap-drop', 'net_raw'])).stderr).toContain('CAP_NET_RAW cannot be both added and dropped');
  });
});

describe('bud --volume', () => {
  it('binds a host directory into every RUN, writable, read-only or as a throwaway overlay, never into the image', async () => {
    await build(
      'volumes',
      [
        'FROM busybox-base',
        'RUN cat /hv/from-host.txt > /seen.txt && echo written > /hv/written.txt',
        'RUN (touch /ro/x 2>/dev/null && echo writable || echo read-only) >> /seen.txt',
        'RUN echo overlay > /ov/overlay.txt && cat /ov/overlay.txt >> /seen.txt',
      ],
      ['-v', `${hostDir}:/hv`, '--volume', `${hostDir}:/ro:ro`, '-v', `${hostDir}:/ov:O`],
    );
    expect(await sh(t, 'volumes', 'cat /seen.txt; ls /hv /ro /ov 2>&1 | grep -c "No such"')).toBe('host file\nread-only\noverlay\n3\n');
    expect(await readFile(path.join(hostDir, 'written.txt'), 'utf8')).toBe('written\n');
    await expect(readFile(path.join(hostDir, 'overlay.txt'))).rejects.toThrow();
    expect(await mountsUnder(t.root)).toEqual([]);
  });

  it('rejects a missing host path and a relative container path', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\nRUN true\n' });
    expect((await bud(t, ctx, ['-v', '/nonexistent-tsbuild:/x'])).stderr).toContain('Error: --volume "/nonexistent-tsbuild:/x": the host path /nonexistent-tsbuild does not exist');
    expect((await bud(t, ctx, ['-v', `${hostDir}:rel`])).stderr).toContain('is not absolute');
    expect((await bud(t, ctx, ['-v', `${hostDir}:/x:bogus`])).stderr).toContain('unknown option "bogus"');
  });
});

describe('bud --add-host, --no-hosts, --dns*', () => {
  it('writes /etc/hosts and /etc/resolv.conf of RUN steps as the flags say, never into the image', async () => {
    await build(
      'hosts',
      ['FROM busybox-base', 'RUN cat /etc/hosts > /hosts.txt && cat /etc/resolv.conf > /resolv.txt'],
      ['--add-host', 'db.internal:10.1.2.3', '--add-host', 'v6:fd00::1', '--dns', '10.0.0.53', '--dns-search', 'example.test', '--dns-option', 'ndots:2'],
    );
    const hosts = await sh(t, 'hosts', 'cat /hosts.txt');
    expect(hosts).toContain('10.1.2.3\tdb.internal\n');
    expect(hosts).toContain('fd00::1\tv6\n');
    const resolv = (await sh(t, 'hosts', 'cat /resolv.txt')).split('\n');
    expect(resolv.filter((l) => /^(nameserver|search|domain|options)\s/.test(l))).toEqual(['nameserver 10.0.0.53', 'search example.test', 'options ndots:2']);
  });

  it("keeps the image's /etc/hosts with --no-hosts", async () => {
    await build('no-hosts', ['FROM busybox-base', 'RUN echo "1.2.3.4 mine" > /etc/hosts', 'RUN cat /etc/hosts > /hosts.txt'], ['--no-hosts']);
    expect(await sh(t, 'no-hosts', 'cat /hosts.txt')).toBe('1.2.3.4 mine\n');
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\nRUN true\n' });
    expect((await bud(t, ctx, ['--no-hosts', '--add-host', 'a:1.2.3.4'])).stderr).toContain('--no-hosts and --add-host cannot be used together');
    expect((await bud(t, ctx, ['--add-host', 'nohostip'])).stderr).toContain('--add-host "nohostip": expected HOST:IP');
    expect((await bud(t, ctx, ['--dns', 'not-an-ip'])).stderr).toContain('--dns "not-an-ip": expected an IP address');
  });
});

// Under CI a missing buildah is a set-up failure, not a reason to skip (scripts/setup.sh installs it).
describe.runIf(buildahAvailable() || process.env.CI === 'true')('RUN-container flags side by side with buildah 1.28', () => {
  it('gives the same files for --volume, --cap-add, --cap-drop and --add-host', async () => {
    const ctx = await contexts.make({
      Containerfile: [
        'FROM localhost/busybox-base',
        'RUN cp /hv/from-host.txt /copied.txt && (touch /hv-ro/x 2>/dev/null && echo rw || echo ro) > /ro.txt',
        `RUN ${CAP_EFF} > /caps.txt`,
        'RUN grep db.internal /etc/hosts > /hosts.txt',
      ].join('\n'),
    });
    const args = ['-v', `${hostDir}:/hv`, '-v', `${hostDir}:/hv-ro:ro`, '--cap-add', 'NET_RAW', '--cap-drop', 'CHOWN', '--add-host', 'db.internal:10.9.8.7'];
    const { tsbuild, buildah } = await buildBoth(ctx, args, t, 'localhost/compare-flags');
    // buildah leaves the mount points it created in the layer; BuildKit, the reference, does not.
    const leftovers = (p: string): boolean => /^(dev|proc|sys|run|hv|hv-ro|etc\/(hosts|resolv\.conf|hostname))$/.test(p);
    expect(tsbuild.files.has('hv')).toBe(false);
    expect(comparableTree(tsbuild, leftovers)).toEqual(comparableTree(buildah, leftovers));
  });
});

describe('the RUN overlay', () => {
  it("is mounted volatile (its unmount syncs nothing), as is a run --rm container's rootfs; a kept container's is not", async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\nRUN grep " / overlay " /proc/mounts > /run-root-mount\n' });
    await budOk(t, ctx, ['-t', 'volatile-check']);
    // The root mount's options as the RUN step saw them, and as containers of the image see their own.
    const seenByRun = await sh(t, 'volatile-check', 'cat /run-root-mount');
    const seenByRmContainer = await sh(t, 'volatile-check', 'grep " / overlay " /proc/mounts');
    const seenByKeptContainer = (await t.ok(['run', '--name', 'kept-volatile-check', 'volatile-check', 'sh', '-c', 'grep " / overlay " /proc/mounts'])).stdout;
    await t.ok(['rm', 'kept-volatile-check']);
    // Shown as `volatile`, or `fsync=volatile` by newer kernels.
    const volatile = /[ ,](?:fsync=)?volatile[ ,]/;
    expect(seenByRun).toMatch(volatile);
    expect(seenByRmContainer).toMatch(volatile);
    expect(seenByKeptContainer).toMatch(/ overlay /);
    expect(seenByKeptContainer).not.toMatch(/volatile/);
  });
});
