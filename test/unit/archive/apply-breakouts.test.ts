// Hostile archives: every attempt to reach outside the extraction root must fail (or stay inside)
// and leave everything outside the root exactly as it was.
import { existsSync, lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyTar, type ApplyOptions } from '../../../src/archive/index.js';
import { isTsbuildError } from '../../../src/errors.js';
import { cleanupTempDirs, craftTar, fingerprint, streamOf, tempDir, type CraftedEntry } from '../helpers-archive.js';

const WHAT = 'layer sha256:abcd';
let base: string;
let root: string;
let before: string[];

/** base/{canary.txt, outside/secret, outside/sub/} surround base/root, the extraction root. */
beforeEach(async () => {
  base = tempDir();
  root = path.join(base, 'root');
  await mkdir(root);
  await writeFile(path.join(base, 'canary.txt'), 'canary');
  await mkdir(path.join(base, 'outside'));
  await writeFile(path.join(base, 'outside/secret'), 'secret');
  await mkdir(path.join(base, 'outside/sub'));
  before = fingerprint(base, ['root']);
});

afterEach(() => {
  // Whatever happened inside the root, nothing outside it changed or appeared.
  expect(fingerprint(base, ['root'])).toEqual(before);
  cleanupTempDirs();
});

const owner = { preserveOwners: false, owner: { uid: process.getuid!(), gid: process.getgid!() } };

async function apply(entries: CraftedEntry[], options: Partial<ApplyOptions> = {}) {
  return applyTar(streamOf(await craftTar(entries)), root, { whiteouts: 'overlay', what: WHAT, ...owner, ...options });
}

async function expectFailure(entries: CraftedEntry[], code: string, message: RegExp, options: Partial<ApplyOptions> = {}) {
  const err = await apply(entries, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isTsbuildError(err), `expected a TsbuildError, got ${String(err)}`).toBe(true);
  expect((err as Error & { code: string }).code).toBe(code);
  expect((err as Error).message).toMatch(message);
  expect((err as Error).message).toContain(WHAT);
}

describe('applyTar refuses to write outside the root', () => {
  it('rejects an absolute entry name', async () => {
    const abs = path.join(base, 'canary.txt');
    await expectFailure([{ name: abs, content: 'pwned' }], 'PATH_ESCAPE', new RegExp(`entry "${abs}" escapes the root`));
  });

  it('rejects ".." that climbs out, directly or after a subdir', async () => {
    await expectFailure([{ name: '../canary.txt', content: 'pwned' }], 'PATH_ESCAPE', /entry "\.\.\/canary\.txt" escapes the root/);
    await expectFailure([{ name: 'a/../../canary.txt', content: 'pwned' }], 'PATH_ESCAPE', /entry "a\/\.\.\/\.\.\/canary\.txt" escapes the root/);
  });

  it('keeps ".." that stays inside the root inside it', async () => {
    await apply([{ name: 'a/../b.txt', content: 'fine' }]);
    expect(readFileSync(path.join(root, 'b.txt'), 'utf8')).toBe('fine');
  });

  it('rejects writing through a relative symlink that leads out, after creating the symlink itself', async () => {
    await expectFailure(
      [
        { name: 'evil', type: 'symlink', linkname: '../outside' },
        { name: 'evil/secret', content: 'pwned' },
      ],
      'PATH_ESCAPE',
      /entry "evil\/secret" escapes the root through the symlink/,
    );
    expect(readlinkSync(path.join(root, 'evil'))).toBe('../outside');
  });

  it('rejects writing through a symlink chain like ../../..', async () => {
    await expectFailure(
      [
        { name: 'dir', type: 'directory' },
        { name: 'dir/up', type: 'symlink', linkname: '../../..' },
        { name: 'dir/up/canary.txt', content: 'pwned' },
      ],
      'PATH_ESCAPE',
      /escapes the root/,
    );
  });

  it('re-roots an absolute symlink, so writing through it lands inside the root', async () => {
    const outside = path.join(base, 'outside');
    await apply([
      { name: 'evil', type: 'symlink', linkname: outside },
      { name: 'evil/secret', content: 'inside' },
    ]);
    expect(readFileSync(path.join(root, outside, 'secret'), 'utf8')).toBe('inside');
  });

  it('replaces an existing symlink with a regular file instead of writing through it', async () => {
    await apply([
      { name: 'abs', type: 'symlink', linkname: path.join(base, 'canary.txt') },
      { name: 'rel', type: 'symlink', linkname: '../canary.txt' },
      { name: 'abs', content: 'new abs' },
      { name: 'rel', content: 'new rel' },
    ]);
    for (const name of ['abs', 'rel']) {
      expect(lstatSync(path.join(root, name)).isFile()).toBe(true);
      expect(readFileSync(path.join(root, name), 'utf8')).toBe(`new ${name}`);
    }
  });

  it('rejects a hardlink to a path outside the root', async () => {
    await expectFailure([{ name: 'h', type: 'link', linkname: '../canary.txt' }], 'PATH_ESCAPE', /hardlink target of "\.\.\/canary\.txt" escapes the root/);
    await expectFailure([{ name: 'h', type: 'link', linkname: path.join(base, 'canary.txt') }], 'PATH_ESCAPE', /escapes the root/);
  });

  it('rejects a hardlink whose target goes through or is a symlink leading out', async () => {
    await expectFailure(
      [
        { name: 'up', type: 'symlink', linkname: '..' },
        { name: 'h', type: 'link', linkname: 'up/canary.txt' },
      ],
      'PATH_ESCAPE',
      /hardlink target of "up\/canary\.txt" escapes the root through the symlink/,
    );
    await expectFailure(
      [
        { name: 'c', type: 'symlink', linkname: '../canary.txt' },
        { name: 'h', type: 'link', linkname: 'c' },
      ],
      'PATH_ESCAPE',
      /hardlink target of "c" escapes the root/,
    );
  });

  it('rejects a hardlink to an entry that is not there yet', async () => {
    await expectFailure(
      [
        { name: 'h', type: 'link', linkname: 'later' },
        { name: 'later', content: 'x' },
      ],
      'INVALID_ARGUMENT',
      /hardlink "h" -> "later" points to an entry that does not exist/,
    );
  });

  it('rejects whiteouts that name ".." or sit below a whiteout or outside the root', async () => {
    await expectFailure([{ name: '.wh...', content: '' }], 'PATH_ESCAPE', /whiteout "\.wh\.\.\." does not name an entry inside the root/);
    await expectFailure([{ name: 'a/.wh...', content: '' }], 'PATH_ESCAPE', /whiteout/);
    await expectFailure([{ name: '.wh.../x', content: '' }], 'INVALID_ARGUMENT', /entry "\.wh\.\.\.\/x" is below a whiteout/);
    await expectFailure([{ name: 'a/../../.wh.canary.txt', content: '' }], 'PATH_ESCAPE', /escapes the root/);
  });

  it('rejects whiteouts and opaque markers through a symlink that leads out', async () => {
    await expectFailure(
      [
        { name: 'up', type: 'symlink', linkname: '..' },
        { name: 'up/.wh.canary.txt', content: '' },
      ],
      'PATH_ESCAPE',
      /entry "up\/\.wh\.canary\.txt" escapes the root through the symlink/,
    );
    await expectFailure(
      [
        { name: 'up2', type: 'symlink', linkname: '../outside' },
        { name: 'up2/.wh..wh..opq', content: '' },
      ],
      'PATH_ESCAPE',
      /escapes the root/,
    );
  });

  it('never applies deferred mtimes or xattrs through a directory later replaced by a symlink', async () => {
    await apply(
      [
        { name: 'd', type: 'directory', mtime: new Date(1000_000) },
        { name: 'd/sub', type: 'directory', mtime: new Date(1000_000) },
        { name: 'd/secret', content: 'x', pax: { 'SCHILY.xattr.user.evil': 'yes' } },
        { name: 'd', type: 'symlink', linkname: path.join(base, 'outside') },
        { name: 'e', type: 'symlink', linkname: path.join(base, 'outside') },
      ],
      { whiteouts: 'none' },
    );
    expect(lstatSync(path.join(root, 'd')).isSymbolicLink()).toBe(true);
  });

  it('rejects a NUL byte in a name and a non-directory entry for the root', async () => {
    await expectFailure([{ name: 'x', pax: { path: 'a\u0000b' }, content: 'x' }], 'INVALID_ARGUMENT', /contains a NUL byte/);
    await expectFailure([{ name: '.', type: 'file', content: 'x' }], 'INVALID_ARGUMENT', /names the root but is not a directory/);
  });

  it('leaves nothing outside when the archive is truncated', async () => {
    const tar = await craftTar([{ name: 'f', content: 'x'.repeat(5000) }]);
    await expect(applyTar(streamOf(tar.subarray(0, 2048)), root, { whiteouts: 'none', what: WHAT, ...owner })).rejects.toThrow(
      /layer sha256:abcd is truncated/,
    );
    expect(existsSync(path.join(base, 'f'))).toBe(false);
  });
});
