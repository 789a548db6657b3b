// ExtractionState writes small files in the background; a later entry below such a file must see
// the file, not a missing path it would turn into a directory. The open() of a background write can
// run after the next entry's lstat on a loaded machine (CI saw it once); here it always does.
import { existsSync, lstatSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ExtractionState } from '../../../src/archive/apply-paths.js';
import { cleanupTempDirs, tempDir } from '../helpers-archive.js';

afterEach(cleanupTempDirs);

/** An extraction whose background write of the file `f` has not run its open() yet. */
async function pendingFile(what = 'layer sha256:c0ffee'): Promise<{ root: string; state: ExtractionState; file: string }> {
  const root = tempDir();
  const state = new ExtractionState(root, what);
  const file = path.join(root, 'f');
  await state.background(file, async () => {
    await sleep(50);
    writeFileSync(file, 'x', { flag: 'wx' });
  });
  return { root, state, file };
}

describe('ExtractionState with a background write still pending', () => {
  it('parentDir of that file refuses the entry below it instead of making a directory there', async () => {
    const { state, file } = await pendingFile();
    await expect(state.parentDir('f', 'f/below')).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: 'layer sha256:c0ffee: entry "f/below" is below "f", which is not a directory',
    });
    await state.cleanup();
    expect(lstatSync(file).isFile()).toBe(true);
  });

  it('parentDir of a path deeper below that file refuses it too', async () => {
    const { root, state } = await pendingFile();
    await expect(state.parentDir('f/d', 'f/d/below')).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: 'layer sha256:c0ffee: entry "f/d/below" is below "f", which is not a directory',
    });
    await state.cleanup();
    expect(existsSync(path.join(root, 'f', 'd'))).toBe(false);
  });

  it('existing() of that file waits and reports it', async () => {
    const { state, file } = await pendingFile('w');
    expect((await state.existing(file))?.isFile()).toBe(true);
  });
});
