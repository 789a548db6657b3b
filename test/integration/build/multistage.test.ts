// Multi-stage builds (COPY --from by name and index, FROM a stage, --target building only what the
// target needs) and the ignore files that decide what of the context COPY sees.
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Contexts, bud, budOk, host, imageNames, setupRoot, sh, steps, teardownRoot, type CliResult, type TestRoot } from './helpers.js';

const STAGES = [
  'FROM busybox-base AS builder',
  'RUN echo built-by-builder > /artifact.txt && mkdir -p /out/sub && echo nested > /out/sub/n.txt && chown -R 1234:5678 /out/sub && chmod 700 /out/sub',
  'FROM busybox-base AS second',
  'RUN echo second > /second.txt',
  'FROM busybox-base AS broken',
  'RUN echo broken-stage-ran && exit 1',
  'FROM builder AS extended',
  'RUN echo extended >> /artifact.txt',
  'FROM busybox-base AS final',
  'COPY --from=builder /artifact.txt /from-name.txt',
  'COPY --from=1 /second.txt /from-index.txt',
  'COPY --from=EXTENDED /artifact.txt /from-extended.txt',
  'COPY --from=builder /out/ /out-copy/',
].join('\n');

let t: TestRoot;
const contexts = new Contexts();
let stagesCtx: string;
let finalBuild: CliResult;

beforeAll(async () => {
  t = await setupRoot();
  stagesCtx = await contexts.make({ Containerfile: STAGES });
  finalBuild = await budOk(t, stagesCtx, ['-t', 'final']);
});

afterAll(async () => {
  await contexts.cleanup();
  await teardownRoot(t);
});

describe('multi-stage builds', () => {
  it('copies from earlier stages by name (any case) and by index, and builds FROM an earlier stage', async () => {
    const out = await sh(t, 'final', 'cat /from-name.txt /from-index.txt /from-extended.txt; find /out-copy | sort');
    expect(out).toBe('built-by-builder\nsecond\nbuilt-by-builder\nextended\n/out-copy\n/out-copy/sub\n/out-copy/sub/n.txt\n');
  });

  it('keeps owners and modes of what COPY --from copies out of a stage', async () => {
    expect(await sh(t, 'final', "stat -c '%n %u:%g %a' /out-copy/sub /out-copy/sub/n.txt")).toBe(
      '/out-copy/sub 1234:5678 700\n/out-copy/sub/n.txt 1234:5678 644\n',
    );
  });

  it('keeps FIFOs and device nodes that COPY --from copies out of a stage, inside a directory or named alone', async () => {
    const staging = await contexts.make({});
    host(['mknod', path.join(staging, 'chardev'), 'c', '1', '3']);
    const ctx = await contexts.make({
      Containerfile: [
        'FROM busybox-base AS specials',
        // RUN cannot mknod (no CAP_MKNOD, as in buildah): the device comes from a tar the host made.
        'ADD dev.tar /sp/',
        'RUN mkfifo /sp/fifo /lonefifo && chown 7:8 /sp/fifo && chmod 640 /sp/fifo',
        'FROM busybox-base',
        'COPY --from=specials /sp /copied/',
        'COPY --from=specials /lonefifo /alone',
      ].join('\n'),
    });
    host(['tar', '-cf', path.join(ctx, 'dev.tar'), '-C', staging, 'chardev']);
    await budOk(t, ctx, ['-t', 'specials-copied']);
    expect(await sh(t, 'specials-copied', "stat -c '%n %F %u:%g %a %t:%T' /copied/chardev /copied/fifo /alone")).toBe(
      '/copied/chardev character special file 0:0 644 1:3\n/copied/fifo fifo 7:8 640 0:0\n/alone fifo 0:0 644 0:0\n',
    );
  });

  it('never runs a stage the final stage does not need', () => {
    expect(finalBuild.stdout).not.toContain('broken-stage-ran');
    expect(finalBuild.stdout).not.toContain('exit 1');
    expect(steps(finalBuild.stdout).map((s) => s.text)).not.toContain('RUN echo broken-stage-ran && exit 1');
  });

  it('--target builds only the target and the stages it depends on', async () => {
    const result = await budOk(t, stagesCtx, ['--target', 'extended', '-t', 'extended-only']);
    expect(result.stdout).toContain('[builder] STEP');
    expect(result.stdout).toContain('[extended] STEP');
    for (const other of ['[second]', '[broken]', '[final]']) expect(result.stdout).not.toContain(other);
    expect(await sh(t, 'extended-only', 'cat /artifact.txt; test -e /second.txt || echo no-second')).toBe(
      'built-by-builder\nextended\nno-second\n',
    );
  });

  it('--target of the broken stage does run it (and fails, tagging nothing)', async () => {
    const result = await bud(t, stagesCtx, ['--target', 'broken', '-t', 'broken-image']);
    expect(result.code).not.toBe(0);
    expect(result.stdout).toContain('broken-stage-ran');
    expect(await imageNames(t)).not.toContain('localhost/broken-image:latest');
  });
});

describe('ignore files', () => {
  const tree = {
    'a.txt': 'a\n',
    'b.txt': 'b\n',
    'c.txt': 'c\n',
    'x.log': 'log\n',
    'keep.log': 'keep\n',
    'secret.txt': 'secret\n',
    'deep/dir/secret.txt': 'deep secret\n',
    'deep/ok.txt': 'ok\n',
    'build/out.bin': 'bin\n',
  };
  const listing = (image: string): Promise<string> => sh(t, image, 'cd /ctx && find . -type f | sort');

  it('applies .dockerignore with ! exceptions and ** patterns, and ignored files do not affect the cache', async () => {
    const ctx = await contexts.make({
      Containerfile: 'FROM busybox-base\nCOPY . /ctx/\n',
      '.dockerignore': '*.log\n!keep.log\n**/secret.txt\nbuild\n',
      ...tree,
    });
    await budOk(t, ctx, ['-t', 'dockerignore']);
    expect(await listing('dockerignore')).toBe(
      ['./.dockerignore', './Containerfile', './a.txt', './b.txt', './c.txt', './deep/ok.txt', './keep.log', ''].join('\n'),
    );
    await writeFile(path.join(ctx, 'deep', 'dir', 'secret.txt'), 'changed secret\n');
    await writeFile(path.join(ctx, 'x.log'), 'more log\n');
    const again = await budOk(t, ctx, ['-t', 'dockerignore']);
    expect(steps(again.stdout).find((s) => s.text === 'COPY . /ctx/')?.cached).toBe(true);
  });

  it('prefers .containerignore over .dockerignore', async () => {
    const ctx = await contexts.make({
      Containerfile: 'FROM busybox-base\nCOPY . /ctx/\n',
      '.containerignore': 'b.txt\ndeep\nbuild\n*.log\n',
      '.dockerignore': 'a.txt\n',
      ...tree,
    });
    await budOk(t, ctx, ['-t', 'containerignore']);
    const files = await listing('containerignore');
    expect(files).toContain('./a.txt\n');
    expect(files).not.toContain('./b.txt');
    expect(files).not.toContain('./deep');
  });

  it('uses the file --ignorefile names instead of the context\'s own', async () => {
    const ctx = await contexts.make({
      Containerfile: 'FROM busybox-base\nCOPY . /ctx/\n',
      '.dockerignore': 'a.txt\n',
      ...tree,
    });
    const ignorefile = path.join(ctx, '..', `${path.basename(ctx)}.ignore`);
    await writeFile(ignorefile, 'c.txt\ndeep/**\n');
    try {
      await budOk(t, ctx, ['--ignorefile', ignorefile, '-t', 'ignorefile']);
    } finally {
      await rm(ignorefile, { force: true });
    }
    const files = await listing('ignorefile');
    expect(files).toContain('./a.txt\n');
    expect(files).not.toContain('./c.txt');
    expect(files).not.toContain('./deep/ok.txt');
  });
});
