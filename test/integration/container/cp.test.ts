// cp between the host and real containers: both directions, docker's directory rules, owners and
// modes, tar streams, stopped containers, and symlinks in the container that try to lead a copy to
// the host's files.
import { execFileSync } from 'node:child_process';
import { chmod, chown, lstat, mkdir, mkdtemp, readFile, readlink, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mountsUnder, type TestRoot } from '../../helpers/tsbuild.js';
import { runDetached, setupContainers, teardownContainers } from './execcp-helpers.js';

let t: TestRoot;
let host: string;

beforeAll(async () => {
  t = await setupContainers();
  await runDetached(t, 'web');
}, 120_000);

afterAll(async () => {
  await teardownContainers(t);
});

beforeEach(async () => {
  host = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-cp-'));
  await mkdir(path.join(host, 'dir', 'sub'), { recursive: true });
  await writeFile(path.join(host, 'dir', 'a'), 'A\n');
  await writeFile(path.join(host, 'dir', 'sub', 'b'), 'B\n');
  await writeFile(path.join(host, 'file'), 'host file\n');
  await chmod(path.join(host, 'file'), 0o751);
  await chown(path.join(host, 'file'), 1234, 1234);
  return () => rm(host, { recursive: true, force: true });
});

const inCtr = async (...cmd: string[]): Promise<string> => (await t.ok(['exec', 'web', ...cmd])).stdout;

describe('cp into a running container', () => {
  it('copies a file into a directory, keeping its mode; owned by root unless -a', async () => {
    await t.ok(['cp', path.join(host, 'file'), 'web:/tmp/']);
    expect(await inCtr('stat', '-c', '%a %u:%g', '/tmp/file')).toBe('751 0:0\n');
    expect(await inCtr('cat', '/tmp/file')).toBe('host file\n');
    await t.ok(['cp', '-a', path.join(host, 'file'), 'web:/tmp/kept']);
    expect(await inCtr('stat', '-c', '%a %u:%g', '/tmp/kept')).toBe('751 1234:1234\n');
  });

  it('copies a directory into an existing one, creates a missing one, and SRC/. copies the contents', async () => {
    await inCtr('mkdir', '-p', '/in/existing', '/in/contents');
    await t.ok(['cp', path.join(host, 'dir'), 'web:/in/existing']);
    await t.ok(['cp', path.join(host, 'dir'), 'web:/in/created']);
    await t.ok(['cp', `${path.join(host, 'dir')}/.`, 'web:/in/contents']);
    const tree = await inCtr('find', '/in', '-type', 'f');
    expect(tree.split('\n').filter((l) => l !== '').sort()).toEqual([
      '/in/contents/a',
      '/in/contents/sub/b',
      '/in/created/a',
      '/in/created/sub/b',
      '/in/existing/dir/a',
      '/in/existing/dir/sub/b',
    ]);
  });

  it('follows docker\'s errors: a directory onto a file, a file into a missing dir/, a missing parent', async () => {
    await inCtr('sh', '-c', 'echo x > /tmp/plain');
    const dirOnFile = await t.run(['cp', path.join(host, 'dir'), 'web:/tmp/plain']);
    expect(dirOnFile.code).toBe(125);
    expect(dirOnFile.stderr).toContain('cannot copy a directory to "web:/tmp/plain": it is a file');
    const missingDir = await t.run(['cp', path.join(host, 'file'), 'web:/tmp/nodir/']);
    expect(missingDir.code).toBe(125);
    expect(missingDir.stderr).toContain('does not exist');
    const missingParent = await t.run(['cp', path.join(host, 'file'), 'web:/no/such/place']);
    expect(missingParent.code).toBe(125);
    const missingSource = await t.run(['cp', path.join(host, 'nothing'), 'web:/tmp']);
    expect(missingSource.code).toBe(125);
    expect(missingSource.stderr).toContain('could not find');
  });

  it('writes through a container symlink to /etc into the container\'s /etc, never the host\'s', async () => {
    const hostPasswd = await readFile('/etc/passwd', 'utf8');
    await inCtr('ln', '-sfn', '/etc', '/x');
    await inCtr('ln', '-sfn', '../../../../../../etc', '/tmp/up');
    await writeFile(path.join(host, 'evil'), 'root:x:0:0:copied-in:/root:/bin/sh\n');
    await t.ok(['cp', path.join(host, 'evil'), 'web:/x/passwd']);
    await t.ok(['cp', path.join(host, 'evil'), 'web:/tmp/up/group']);
    expect(await readFile('/etc/passwd', 'utf8')).toBe(hostPasswd);
    expect(await inCtr('cat', '/etc/passwd')).toBe('root:x:0:0:copied-in:/root:/bin/sh\n');
    expect(await inCtr('cat', '/etc/group')).toBe('root:x:0:0:copied-in:/root:/bin/sh\n');
    // A directory copied over the symlink replaces the link; nothing lands in /etc of either side.
    await mkdir(path.join(host, 'over', 'x'), { recursive: true });
    await writeFile(path.join(host, 'over', 'x', 'shadow-probe'), 'p\n');
    await t.ok(['cp', `${path.join(host, 'over')}/.`, 'web:/']);
    expect(await inCtr('sh', '-c', 'test -d /x && ! test -L /x && cat /x/shadow-probe')).toBe('p\n');
    await expect(stat('/etc/shadow-probe')).rejects.toThrow();
  });

  it('extracts a tar stream from stdin into a directory', async () => {
    const tar = execFileSync('tar', ['-c', '-C', host, 'dir']);
    await inCtr('mkdir', '-p', '/fromtar');
    await t.ok(['cp', '-', 'web:/fromtar'], { input: tar });
    expect(await inCtr('cat', '/fromtar/dir/sub/b')).toBe('B\n');
    const notDir = await t.run(['cp', '-', 'web:/fromtar/dir/a'], { input: tar });
    expect(notDir.code).toBe(125);
  });

  it('sees the volumes and tmpfs mounts of a running container', async () => {
    await runDetached(t, 'withvol', ['sleep', '300'], ['-v', 'cpvol:/data', '--tmpfs', '/scratch']);
    await t.ok(['cp', path.join(host, 'file'), 'withvol:/data/in-volume']);
    await t.ok(['cp', path.join(host, 'file'), 'withvol:/scratch/in-tmpfs']);
    expect((await t.ok(['exec', 'withvol', 'cat', '/data/in-volume', '/scratch/in-tmpfs'])).stdout).toBe('host file\nhost file\n');
    await t.ok(['cp', 'withvol:/scratch/in-tmpfs', path.join(host, 'back')]);
    expect(await readFile(path.join(host, 'back'), 'utf8')).toBe('host file\n');
    await t.ok(['rm', '-f', 'withvol']);
  });
});

describe('cp out of a running container', () => {
  it('copies a file owned by the caller, or by its container owner with -a', async () => {
    await inCtr('sh', '-c', 'echo u > /tmp/owned; chown 1000:1000 /tmp/owned; chmod 640 /tmp/owned');
    await t.ok(['cp', 'web:/tmp/owned', `${host}/`]);
    let st = await stat(path.join(host, 'owned'));
    expect([st.mode & 0o7777, st.uid, st.gid]).toEqual([0o640, process.getuid!(), process.getgid!()]);
    await t.ok(['cp', '-a', 'web:/tmp/owned', path.join(host, 'owned-a')]);
    st = await stat(path.join(host, 'owned-a'));
    expect([st.uid, st.gid]).toEqual([1000, 1000]);
    expect(await readFile(path.join(host, 'owned-a'), 'utf8')).toBe('u\n');
  });

  it('copies a directory, or its contents with /.', async () => {
    await inCtr('sh', '-c', 'mkdir -p /out/d/e && echo 1 > /out/d/one && echo 2 > /out/d/e/two');
    await t.ok(['cp', 'web:/out/d', path.join(host, 'copy')]);
    expect(await readFile(path.join(host, 'copy', 'e', 'two'), 'utf8')).toBe('2\n');
    await mkdir(path.join(host, 'into'));
    await t.ok(['cp', 'web:/out/d/.', path.join(host, 'into')]);
    expect((await readdir(path.join(host, 'into'))).sort()).toEqual(['e', 'one']);
    await t.ok(['cp', 'web:/out/d', path.join(host, 'into')]);
    expect((await readdir(path.join(host, 'into'))).sort()).toEqual(['d', 'e', 'one']);
  });

  it('resolves container symlinks inside the container and copies a named symlink as a link', async () => {
    await inCtr('ln', '-sfn', '/etc', '/link-to-etc');
    await t.ok(['cp', 'web:/link-to-etc/group', path.join(host, 'group')]);
    expect(await readFile(path.join(host, 'group'), 'utf8')).toBe(await inCtr('cat', '/etc/group'));
    await t.ok(['cp', 'web:/link-to-etc', path.join(host, 'thelink')]);
    expect((await lstat(path.join(host, 'thelink'))).isSymbolicLink()).toBe(true);
    expect(await readlink(path.join(host, 'thelink'))).toBe('/etc');
    await t.ok(['cp', '-L', 'web:/link-to-etc', path.join(host, 'followed')]);
    expect(await readFile(path.join(host, 'followed', 'group'), 'utf8')).toBe(await inCtr('cat', '/etc/group'));
  });

  it('writes a tar stream to stdout with -', async () => {
    const { spawnSync } = await import('node:child_process');
    const { BIN } = await import('../../helpers/tsbuild.js');
    const r = spawnSync(BIN, ['--root', t.root, 'cp', 'web:/bin/busybox', '-'], { maxBuffer: 64 << 20 });
    expect(r.status).toBe(0);
    const list = execFileSync('tar', ['-tv'], { input: r.stdout, encoding: 'utf8' });
    expect(list).toMatch(/^-rwx.* busybox\n$/);
  });

  it('refuses container to container and host to host', async () => {
    expect((await t.run(['cp', 'web:/etc/passwd', 'web:/tmp/'])).stderr).toContain('between containers is not supported');
    expect((await t.run(['cp', path.join(host, 'file'), path.join(host, 'f2')])).code).toBe(125);
  });
});

describe('cp with a stopped container', () => {
  it('mounts its rootfs for the copy and unmounts it again', async () => {
    const id = (await t.ok(['create', '--name', 'stopped', '--network', 'none', 'busybox-base', 'cat', '/tmp/copied'])).stdout.trim();
    await t.ok(['cp', path.join(host, 'file'), 'stopped:/tmp/copied']);
    await t.ok(['cp', 'stopped:/tmp/copied', path.join(host, 'back')]);
    expect(await readFile(path.join(host, 'back'), 'utf8')).toBe('host file\n');
    expect(await mountsUnder(path.join(t.root, 'containers', id))).toEqual([]);
    // What was copied in is part of the container: it sees it when it runs.
    await t.ok(['start', 'stopped']);
    expect((await t.ok(['wait', 'stopped'])).stdout).toBe('0\n');
    expect((await t.ok(['logs', 'stopped'])).stdout).toBe('host file\n');
    // Exited now, so a copy out mounts the rootfs again, and unmounts it.
    await t.ok(['cp', 'stopped:/tmp/copied', path.join(host, 'again')]);
    expect(await mountsUnder(path.join(t.root, 'containers', id))).toEqual([]);
  });
});
