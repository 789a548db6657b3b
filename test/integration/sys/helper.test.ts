// The system helper (dist/tsbuild-sys) against the real kernel: overlay mounts from relative lower
// dirs, unmounts (detached when busy), network namespaces as `ip netns` makes and sees them, and
// errors that name what failed. Needs root, like every mount.
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addNetns, deleteNetns, detachMount, mountOverlay, unmount } from '../../../src/sys/helper.js';
import { isMounted } from '../../../src/util/mounts.js';

let dir: string;
const NETNS_DIR = '/run/netns';
const netnsName = `tsbuild-test-${process.pid}`;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-sys-'));
  for (const [layer, file, text] of [['lower1', 'a', 'top'], ['lower2', 'a', 'below'], ['lower2', 'b', 'only below']]) {
    await mkdir(path.join(dir, layer!), { recursive: true });
    await writeFile(path.join(dir, layer!, file!), text!);
  }
  await mkdir(path.join(dir, 'upper'));
  await mkdir(path.join(dir, 'work'));
  await mkdir(path.join(dir, 'merged'));
});

afterAll(async () => {
  if (await isMounted(path.join(dir, 'merged'))) execFileSync('umount', ['-l', path.join(dir, 'merged')]);
  if (existsSync(path.join(NETNS_DIR, netnsName))) execFileSync('ip', ['netns', 'delete', netnsName]);
  await rm(dir, { recursive: true, force: true });
});

describe('system helper', () => {
  it('mounts an overlay from lower dirs relative to the directory given, and unmounts it', async () => {
    const merged = path.join(dir, 'merged');
    await mountOverlay(dir, merged, `lowerdir=lower1:lower2,upperdir=${dir}/upper,workdir=${dir}/work`);
    expect(await isMounted(merged)).toBe(true);
    expect(await readFile(path.join(merged, 'a'), 'utf8')).toBe('top');
    expect(await readFile(path.join(merged, 'b'), 'utf8')).toBe('only below');
    await writeFile(path.join(merged, 'c'), 'written');
    await unmount(merged);
    expect(await isMounted(merged)).toBe(false);
    expect(await readFile(path.join(dir, 'upper', 'c'), 'utf8')).toBe('written');
  });

  it('detaches a mount that a process still uses, so it is no longer visible', async () => {
    const merged = path.join(dir, 'merged');
    await mountOverlay(dir, merged, `lowerdir=lower1:lower2,upperdir=${dir}/upper,workdir=${dir}/work`);
    const busy = spawn('sleep', ['30'], { cwd: merged, stdio: 'ignore' });
    try {
      await unmount(merged);
      expect(await isMounted(merged)).toBe(false);
    } finally {
      busy.kill('SIGKILL');
    }
    await mountOverlay(dir, merged, `lowerdir=lower1:lower2`);
    await detachMount(merged);
    expect(await isMounted(merged)).toBe(false);
  });

  it('names the target and the reason when a mount or an unmount fails', async () => {
    const missing = path.join(dir, 'no-such-dir');
    await expect(mountOverlay(dir, missing, 'lowerdir=lower1:lower2')).rejects.toThrow(`cannot mount overlay at ${missing}: No such file or directory`);
    await expect(mountOverlay(path.join(dir, 'gone'), path.join(dir, 'merged'), 'lowerdir=lower1:lower2')).rejects.toThrow(`cannot enter ${dir}/gone`);
    await expect(unmount(path.join(dir, 'lower1'))).rejects.toThrow(`cannot unmount ${dir}/lower1: Invalid argument`);
  });

  it('makes a network namespace that ip netns lists, with its loopback up, and deletes it', async () => {
    await addNetns(NETNS_DIR, netnsName);
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).toContain(netnsName);
    const lo = execFileSync('ip', ['-n', netnsName, '-o', 'link', 'show', 'lo'], { encoding: 'utf8' });
    expect(lo).toMatch(/<LOOPBACK,UP,LOWER_UP>/);
    // Its own namespace: no host interface is in it.
    expect(execFileSync('ip', ['-n', netnsName, '-o', 'link'], { encoding: 'utf8' }).trim().split('\n')).toHaveLength(1);
    await expect(addNetns(NETNS_DIR, netnsName)).rejects.toThrow(`cannot create ${NETNS_DIR}/${netnsName}: File exists`);
    await deleteNetns(NETNS_DIR, netnsName);
    expect(existsSync(path.join(NETNS_DIR, netnsName))).toBe(false);
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(netnsName);
    // Deleting one that is gone is fine.
    await deleteNetns(NETNS_DIR, netnsName);
  });

  it('runs requests side by side: many at once all get their own answer', async () => {
    const names = Array.from({ length: 8 }, (_, i) => `${netnsName}-${i}`);
    try {
      await Promise.all(names.map((n) => addNetns(NETNS_DIR, n)));
      const listed = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
      for (const n of names) expect(listed).toContain(n);
    } finally {
      await Promise.all(names.map((n) => deleteNetns(NETNS_DIR, n)));
    }
    for (const n of names) expect(existsSync(path.join(NETNS_DIR, n))).toBe(false);
  });
});
