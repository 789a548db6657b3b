// The bud flags people bring from docker buildx, podman build and buildah, through the real CLI and
// runc: accepted with their meaning there, or refused with a clear error.
import { readFile, readdir, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildahAvailable, buildBoth, comparableTree } from '../../helpers/buildah.js';
import { startRegistry, type TestRegistry } from '../../helpers/registry.js';
import { Contexts, bud, budOk, inspectJson, setupRoot, sh, steps, teardownRoot, type TestRoot } from './helpers.js';

let t: TestRoot;
const contexts = new Contexts();

beforeAll(async () => {
  t = await setupRoot();
});

afterAll(async () => {
  await contexts.cleanup();
  await teardownRoot(t);
});

async function build(tag: string, lines: string[], args: string[] = [], input?: string) {
  const ctx = await contexts.make({ Containerfile: lines.join('\n') });
  return input === undefined ? budOk(t, ctx, ['-t', tag, ...args]) : t.ok(['bud', '-t', tag, ...args, ctx], { input });
}

const TWO_STAGES = ['FROM busybox-base AS unused', 'RUN echo unused-stage-ran', 'FROM busybox-base', 'RUN echo final-stage-ran'];

describe('flags accepted for compatibility', () => {
  it('accepts --rm, --force-rm, --load and --disable-compression and builds as without them', async () => {
    const result = await build('compat-accepted', ['FROM busybox-base', 'RUN echo hi > /hi'], ['--rm', '--force-rm=false', '--load', '-D', '--identity-label=false']);
    expect(steps(result.stdout).map((s) => s.text)).toEqual(['FROM busybox-base', 'RUN echo hi > /hi']);
    const labels = await inspectJson<Record<string, string> | null>(t, 'compat-accepted', 'Config.Labels');
    expect(labels ?? {}).not.toHaveProperty('io.buildah.version');
  });

  it('--progress=quiet prints only the image ID, plain the step lines; an unknown style is refused', async () => {
    const quiet = await build('compat-progress', ['FROM busybox-base', 'RUN true'], ['--progress=quiet']);
    expect(quiet.stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
    const plain = await build('compat-progress', ['FROM busybox-base', 'RUN true'], ['--progress', 'plain']);
    expect(plain.stdout).toContain('STEP 2/2: RUN true');
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\n' });
    const bad = await bud(t, ctx, ['--progress', 'fancy']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('Error: --progress "fancy": expected auto, plain, tty, quiet, rawjson');
  });

  it('skips unused stages by default; --skip-unused-stages=false builds them too', async () => {
    const skipped = await build('compat-skip', TWO_STAGES);
    expect(skipped.stdout).not.toContain('unused-stage-ran');
    const all = await build('compat-skip', TWO_STAGES, ['--skip-unused-stages=false']);
    expect(all.stdout).toContain('unused-stage-ran');
    expect(all.stdout).toContain('final-stage-ran');
  });

  it('accepts --isolation oci and refuses chroot clearly', async () => {
    await build('compat-isolation', ['FROM busybox-base'], ['--isolation', 'oci']);
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\n' });
    const bad = await bud(t, ctx, ['--isolation', 'chroot']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('Error: --isolation chroot: only oci isolation (runc) is supported');
    const fromEnv = await t.run(['bud', ctx], { env: { ...process.env, BUILDAH_ISOLATION: 'rootless' } });
    expect(fromEnv.stderr).toContain('Error: --isolation rootless: only oci isolation (runc) is supported');
  });

  it('--stdin gives RUN steps the standard input', async () => {
    await build('compat-stdin', ['FROM busybox-base', 'RUN cat > /from-stdin'], ['--stdin'], 'typed in\n');
    const { stdout } = await t.ok(['run', '--rm', 'compat-stdin', 'cat', '/from-stdin']);
    expect(stdout).toBe('typed in\n');
    await build('compat-nostdin', ['FROM busybox-base', 'RUN cat > /no-stdin'], [], 'typed in\n');
    const none = await t.ok(['run', '--rm', 'compat-nostdin', 'cat', '/no-stdin']);
    expect(none.stdout).toBe('');
  });
});

describe('--push and --metadata-file', () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry();
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it('pushes every -t name and writes the pushed digest to the metadata file', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\nRUN echo pushed > /p\n' });
    const meta = path.join(ctx, 'metadata.json');
    const [a, b] = [`${reg.host}/app:1`, `${reg.host}/app:latest`];
    await budOk(t, ctx, ['--tls-verify=false', '--push', '--metadata-file', meta, '-t', a, '-t', b]);
    const metadata = JSON.parse(await readFile(meta, 'utf8')) as Record<string, string>;
    const id = await inspectJson<string>(t, a, 'Id');
    expect(metadata['containerimage.config.digest']).toBe(id.startsWith('sha256:') ? id : `sha256:${id}`);
    expect(metadata['image.name']).toBe(`${a},${b}`);
    for (const tag of ['1', 'latest']) {
      const res = await fetch(`${reg.url}/v2/app/manifests/${tag}`, {
        method: 'HEAD',
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('docker-content-digest')).toBe(metadata['containerimage.digest']);
    }
  });

  it('writes the local manifest digest without --push', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\n' });
    const meta = path.join(ctx, 'm.json');
    await budOk(t, ctx, ['--metadata-file', meta, '-t', 'compat-meta']);
    const metadata = JSON.parse(await readFile(meta, 'utf8')) as Record<string, string>;
    expect(metadata['containerimage.digest']).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(metadata['image.name']).toBe('localhost/compat-meta:latest');
  });

  it('refuses --push without a name', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\n' });
    const bad = await bud(t, ctx, ['--push']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('Error: --push needs an image name: give one with -t');
  });
});

describe('--os, --arch, --variant', () => {
  it('builds for the host platform given in parts', async () => {
    await build('compat-arch', ['FROM busybox-base', 'ARG TARGETARCH', 'RUN echo $TARGETARCH > /arch'], ['--os', 'linux', '--arch', 'amd64']);
    expect(await inspectJson<string>(t, 'compat-arch', 'Architecture')).toBe('amd64');
  });

  it('refuses another architecture, naming the flag', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\n' });
    const bad = await bud(t, ctx, ['--arch', 'arm64']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('Error: --arch arm64: only the host platform (linux/amd64) can be built');
    const variant = await bud(t, ctx, ['--variant', 'v7']);
    expect(variant.stderr).toContain('Error: --variant v7: only the host platform');
  });
});

describe('--omit-history, --no-cache-filter, --retry', () => {
  it('--omit-history writes no history', async () => {
    await build('compat-history', ['FROM busybox-base', 'RUN echo x > /x'], ['--omit-history']);
    expect(await inspectJson(t, 'compat-history', 'History')).toEqual([]);
  });

  it('--no-cache-filter reruns only the stages it names', async () => {
    const lines = ['FROM busybox-base AS deps', 'RUN echo deps > /deps', 'FROM busybox-base', 'COPY --from=deps /deps /deps', 'RUN echo app > /app'];
    await build('compat-filter', lines);
    const again = await build('compat-filter', lines, ['--no-cache-filter', 'deps']);
    const cached = steps(again.stdout).filter((s) => s.cached).map((s) => s.text);
    expect(cached).not.toContain('RUN echo deps > /deps');
    expect(cached).toContain('RUN echo app > /app');
    const ctx = await contexts.make({ Containerfile: lines.join('\n') });
    const bad = await bud(t, ctx, ['--no-cache-filter', 'nope']);
    expect(bad.stderr).toMatch(/Error: --no-cache-filter nope: .*Containerfile has no stage of that name or index/);
  });

  it('--retry and --retry-delay are checked', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\n' });
    await budOk(t, ctx, ['--retry', '2', '--retry-delay', '10ms']);
    const bad = await bud(t, ctx, ['--retry-delay', 'soon']);
    expect(bad.stderr).toContain('Error: --retry-delay "soon": expected a duration');
  });
});

describe('resource and security flags of RUN containers', () => {
  it('RUN sees its memory limit, CPU shares and cpuset, and the image keeps none of it', async () => {
    const result = await build('compat-limits', [
      'FROM busybox-base',
      'RUN cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpuset/cpuset.cpus /sys/fs/cgroup/cpu/cpu.cfs_quota_us',
    ], ['-m', '64m', '--memory-swap', '-1', '--cpu-shares', '512', '--cpuset-cpus', '0', '--cpu-period', '100000', '--cpu-quota', '50000']);
    expect(result.stdout).toContain(`${64 * 1024 * 1024}\n512\n0\n50000\n`);
  });

  it('--shm-size sets the size of /dev/shm', async () => {
    const result = await build('compat-shm', ['FROM busybox-base', 'RUN df -k /dev/shm | tail -1 | awk \'{print "shm=" $2}\''], ['--shm-size', '16m']);
    expect(result.stdout).toContain('shm=16384');
  });

  it('--ulimit sets a RUN rlimit, and a limit above our own hard limit is a clear error', async () => {
    const result = await build('compat-ulimit', ['FROM busybox-base', 'RUN echo "n=$(ulimit -n):$(ulimit -Hn)"'], ['--ulimit', 'nofile=512:1024']);
    expect(result.stdout).toContain('n=512:1024');
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\n' });
    const bad = await bud(t, ctx, ['--ulimit', 'nofile=10:99999999']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/Error: --ulimit "nofile=10:99999999": above tsbuild's own hard limit \(\d+\)/);
    const unknown = await bud(t, ctx, ['--ulimit', 'files=10']);
    expect(unknown.stderr).toContain('Error: --ulimit "files=10": expected TYPE=SOFT[:HARD]');
  });

  it('--device gives RUN the device node, and its rules let it be opened', async () => {
    const result = await build('compat-device', ['FROM busybox-base', 'RUN ls -l /dev/fuse /dev/tun && head -c0 /dev/zero </dev/tun 2>&1; echo done'], ['--device', '/dev/fuse', '--device', '/dev/net/tun:/dev/tun:rw']);
    expect(result.stdout).toMatch(/^crw.* 10,\s*229 .*\/dev\/fuse$/m);
    expect(result.stdout).toMatch(/^crw.*\/dev\/tun$/m);
    expect(await sh(t, 'compat-device', 'ls /dev/fuse 2>&1 || true')).toContain('No such file');
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\n' });
    const bad = await bud(t, ctx, ['--device', '/dev/no-such-device']);
    expect(bad.stderr).toContain('Error: --device "/dev/no-such-device": /dev/no-such-device does not exist');
  });

  it('--group-add adds supplementary groups by name and gid', async () => {
    await build('compat-with-staff', ['FROM busybox-base', 'RUN echo "staff:x:50:" >> /etc/group']);
    const result = await build('compat-groups', ['FROM compat-with-staff', 'RUN echo "groups=$(id -G)"'], ['--group-add', 'staff', '--group-add', '1234']);
    expect(result.stdout).toMatch(/groups=0( \d+)* 50 1234/);
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\nRUN true\n' });
    const bad = await bud(t, ctx, ['--group-add', 'nosuchgroup']);
    expect(bad.stderr).toContain(`Error: ${path.join(ctx, 'Containerfile')}:2: --group-add: unable to find group nosuchgroup`);
  });

  it('--cgroup-parent puts RUN under that cgroup', async () => {
    const parent = `tsbuild-test-parent-${process.pid}`;
    try {
      const result = await build('compat-cgroup', ['FROM busybox-base', 'RUN grep memory /proc/self/cgroup'], ['--cgroup-parent', `/${parent}`]);
      expect(result.stdout).toMatch(new RegExp(`:memory:/${parent}/tsbuild-[0-9a-f]+$`, 'm'));
    } finally {
      // The parent is the caller's to remove (runc removes only the container's own cgroup).
      for (const controller of await readdir('/sys/fs/cgroup')) await rmdir(path.join('/sys/fs/cgroup', controller, parent)).catch(() => undefined);
    }
  });

  it('--security-opt: no-new-privileges and seccomp=unconfined apply, label=disable and apparmor=unconfined change nothing, a missing profile is refused', async () => {
    const lines = ['FROM busybox-base', 'RUN grep -E "^(NoNewPrivs|Seccomp):" /proc/self/status'];
    const result = await build('compat-secopt', lines, ['--security-opt', 'no-new-privileges', '--security-opt', 'seccomp=unconfined', '--security-opt', 'label=disable', '--security-opt', 'apparmor=unconfined']);
    expect(result.stdout).toMatch(/NoNewPrivs:\s+1\nSeccomp:\s+0/);
    const ctx = await contexts.make({ Containerfile: lines.join('\n') });
    const bad = await bud(t, ctx, ['--security-opt', 'seccomp=/etc/no-such-profile.json']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('Error: seccomp profile /etc/no-such-profile.json: no such file');
    const unknown = await bud(t, ctx, ['--security-opt', 'label=level:s0']);
    expect(unknown.stderr).toContain('Error: --security-opt "label=level:s0": tsbuild applies no SELinux labels; only label=disable is accepted');
  });

  it('limits are not part of the cache key; rlimits are', async () => {
    const lines = ['FROM busybox-base', 'RUN echo keyed > /k'];
    await build('compat-key', lines);
    const limited = await build('compat-key', lines, ['-m', '128m', '--shm-size', '8m']);
    expect(steps(limited.stdout).find((s) => s.text.startsWith('RUN'))?.cached).toBe(true);
    const ulimited = await build('compat-key', lines, ['--ulimit', 'nofile=256']);
    expect(steps(ulimited.stdout).find((s) => s.text.startsWith('RUN'))?.cached).toBe(false);
  });
});

describe.runIf(buildahAvailable() || process.env.CI === 'true')('compatibility flags side by side with buildah 1.28', () => {
  it('gives the same files and config for the limits, --arch, --omit-history and --identity-label=false', async () => {
    const ctx = await contexts.make({
      Containerfile: [
        'FROM localhost/busybox-base',
        'RUN cat /sys/fs/cgroup/memory/memory.limit_in_bytes > /memory && echo "$(ulimit -n):$(ulimit -Hn)" > /nofile',
        "RUN df -k /dev/shm | tail -1 | awk '{print $2}' > /shm",
      ].join('\n'),
    });
    const args = ['-m', '64m', '--ulimit', 'nofile=512:1024', '--shm-size', '16m', '--arch', 'amd64', '--omit-history', '--identity-label=false', '--rm', '--force-rm'];
    const { tsbuild, buildah } = await buildBoth(ctx, args, t, 'localhost/compare-compat');
    // buildah leaves the mount points it created in the layer; BuildKit, the reference, does not.
    const leftovers = (p: string): boolean => /^(dev|proc|sys|run|etc\/(hosts|resolv\.conf|hostname))$/.test(p);
    expect(comparableTree(tsbuild, leftovers)).toEqual(comparableTree(buildah, leftovers));
    expect(tsbuild.files.get('memory')?.size).toBe(`${64 * 1024 * 1024}\n`.length);
    for (const view of [tsbuild, buildah]) {
      expect(view.config.history ?? []).toEqual([]);
      expect(view.config.config?.Labels ?? {}).not.toHaveProperty('io.buildah.version');
      expect(view.config.architecture).toBe('amd64');
    }
  });
});
