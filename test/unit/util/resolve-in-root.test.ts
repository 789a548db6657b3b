// resolveInRoot: an untrusted path resolved inside a root the way a chroot would, whatever symlinks
// the root holds; the result never leads through a symlink, so callers may act on it with the host's
// path-following system calls.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveInRoot, runtimeMountOf } from '../../../src/util/resolve-in-root.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-rir-'));
mkdirSync(path.join(root, 'dir'));
writeFileSync(path.join(root, 'file'), 'x');
symlinkSync('/etc', path.join(root, 'abs'));
symlinkSync('../../../..', path.join(root, 'up'));
symlinkSync('dir', path.join(root, 'rel'));
symlinkSync('loop', path.join(root, 'loop'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('resolveInRoot', () => {
  it.each([
    ['abs/passwd', 'etc/passwd'],
    ['up/etc/passwd', 'etc/passwd'],
    ['rel/x', 'dir/x'],
    ['missing/x/y', 'missing/x/y'],
    // Back above a missing component, the path exists again and its symlinks count.
    ['missing/../abs/shadow', 'etc/shadow'],
    ['missing/deeper/../../abs', 'etc'],
    ['file/nope/../../abs', 'etc'],
    ['missing/../rel/x', 'dir/x'],
    ['../../abs', 'etc'],
  ])('clamps %s to <root>/%s', async (input, expected) => {
    expect(await resolveInRoot(root, input)).toBe(path.join(root, expected));
  });

  it('rejects climbing out in error mode, also after a missing component', async () => {
    await expect(resolveInRoot(root, 'missing/../up/x', { onEscape: 'error', what: 'the context' })).rejects.toThrow(/escapes the context through the symlink \/up -> \.\.\/\.\.\/\.\.\/\.\./);
    await expect(resolveInRoot(root, 'missing/../../x', { onEscape: 'error' })).rejects.toThrow(/escapes its root/);
  });

  it('stops at a symlink loop', async () => {
    await expect(resolveInRoot(root, 'loop/x')).rejects.toThrow(/too many levels of symbolic links/);
  });

  it('leaves the last component alone when asked', async () => {
    expect(await resolveInRoot(root, 'missing/../abs', { followFinal: false })).toBe(path.join(root, 'abs'));
  });
});

describe('runtimeMountOf', () => {
  it.each([
    ['/proc/self/fd/7', '/proc'],
    ['/proc', '/proc'],
    ['/dev/fd/3', '/dev'],
    ['/sys/fs/cgroup', '/sys'],
    ['/process', undefined],
    ['/devices', undefined],
    ['/app', undefined],
  ])('%s -> %s', (input, expected) => {
    expect(runtimeMountOf(input)).toBe(expected);
  });
});
