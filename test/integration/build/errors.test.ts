// Bad input to a build: each gives one `Error:` line that names the Containerfile and line, a
// non-zero exit, no stack trace, nothing left mounted and no image tagged.
import { symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Contexts, host, imageNames, mountsUnder, setupRoot, startCli, teardownRoot, type CliResult, type TestRoot } from './helpers.js';

let t: TestRoot;
const contexts = new Contexts();

beforeAll(async () => {
  t = await setupRoot();
});

afterAll(async () => {
  await contexts.cleanup();
  await teardownRoot(t);
});

const TAG = 'should-not-exist';

/** Builds `containerfile` in a fresh context; `prepare` may add files. */
async function failingBuild(
  containerfile: string,
  options: { files?: Record<string, string>; prepare?: (ctx: string) => Promise<void>; args?: string[] } = {},
): Promise<{ result: CliResult; file: string }> {
  const ctx = await contexts.make({ Containerfile: containerfile, ...options.files });
  await options.prepare?.(ctx);
  const result = await t.run(['bud', '-t', TAG, ...(options.args ?? []), ctx]);
  return { result, file: path.join(ctx, 'Containerfile') };
}

/** The common checks: one Error line (returned), non-zero exit, no stack, no mounts, no tag. */
async function expectCleanFailure(result: CliResult): Promise<string> {
  expect(result.code, result.stderr).not.toBe(0);
  const errors = result.stderr.split('\n').filter((l) => l.startsWith('Error: '));
  expect(errors, result.stderr).toHaveLength(1);
  expect(result.stderr).not.toMatch(/^\s+at /m);
  expect(await mountsUnder(t.root)).toEqual([]);
  expect(await imageNames(t)).not.toContain(`localhost/${TAG}:latest`);
  return errors[0]!;
}

describe('build errors', () => {
  it('rejects an unknown instruction, naming its line', async () => {
    const { result, file } = await failingBuild('FROM busybox-base\nRUN true\nFOO bar\n');
    const error = await expectCleanFailure(result);
    expect(error).toContain(`${file}:3:`);
    expect(error).toMatch(/unknown instruction/i);
    expect(error).toContain('FOO');
  });

  it('rejects an unknown flag', async () => {
    const { result, file } = await failingBuild('FROM busybox-base\nCOPY --bogus=1 a b\n', { files: { a: 'a' } });
    const error = await expectCleanFailure(result);
    expect(error).toContain(`${file}:2:`);
    expect(error).toContain('bogus');
  });

  it('reports a missing COPY source', async () => {
    const { result, file } = await failingBuild('FROM busybox-base\nRUN true\nCOPY missing.txt /x\n');
    const error = await expectCleanFailure(result);
    expect(error).toContain(`${file}:3:`);
    expect(error).toContain('missing.txt');
  });

  it('refuses a COPY source outside the context (../x)', async () => {
    const { result, file } = await failingBuild('FROM busybox-base\nCOPY ../x /x\n');
    const error = await expectCleanFailure(result);
    expect(error).toContain(`${file}:2:`);
    expect(error).toContain('../x');
  });

  it('refuses a COPY source that is a symlink pointing outside the context', async () => {
    const { result, file } = await failingBuild('FROM busybox-base\nCOPY link /x\n', {
      prepare: (ctx) => symlink('../../../../../../etc/passwd', path.join(ctx, 'link')),
    });
    const error = await expectCleanFailure(result);
    expect(error).toContain(`${file}:2:`);
    expect(error).toContain('link');
  });

  it('refuses to COPY below a file of the image (a symlink to a file on the way)', async () => {
    const { result, file } = await failingBuild('FROM busybox-base\nCOPY a /bin/sh/x\n', { files: { a: 'a' } });
    const error = await expectCleanFailure(result);
    expect(error).toContain(`${file}:2:`);
    expect(error).toContain('not a directory');
  });

  it('refuses to COPY several files or a directory to a destination that is a file', async () => {
    const { result, file } = await failingBuild('FROM busybox-base\nCOPY a b /etc/passwd\n', { files: { a: 'a', b: 'b' } });
    const error = await expectCleanFailure(result);
    expect(error).toContain(`${file}:2:`);
    expect(error).toContain('/etc/passwd is not a directory');
    const dir = await failingBuild('FROM busybox-base\nCOPY dir /etc/passwd\n', { files: { 'dir/a': 'a' } });
    expect(await expectCleanFailure(dir.result)).toContain(`${dir.file}:2: cannot copy to /etc/passwd: /etc/passwd is not a directory`);
  });

  it('refuses a WORKDIR below a file of the image', async () => {
    const { result, file } = await failingBuild('FROM busybox-base\nWORKDIR /etc/passwd/x\n');
    const error = await expectCleanFailure(result);
    expect(error).toContain(`${file}:2:`);
    expect(error).toContain('/etc/passwd is not a directory');
  });

  it('reports a WORKDIR that a RUN replaced with a file when the next RUN needs it', async () => {
    const { result, file } = await failingBuild('FROM busybox-base\nWORKDIR /w\nRUN rm -rf /w && touch /w\nRUN pwd\n');
    const error = await expectCleanFailure(result);
    expect(error).toContain(`${file}:4:`);
    expect(error).toContain('working directory /w is not a directory');
    expect(error).not.toContain(t.root);
  });

  it('refuses RUN flags it cannot honour instead of ignoring them', async () => {
    const { result, file } = await failingBuild('FROM busybox-base\nRUN true\nRUN --device=/dev/fuse true\n');
    const error = await expectCleanFailure(result);
    expect(error).toContain(`${file}:3:`);
    expect(error).toContain('unknown flag --device for RUN');
    const bad = await failingBuild('FROM busybox-base\nRUN --network=bogus true\n');
    expect(await expectCleanFailure(bad.result)).toContain(`${bad.file}:2: RUN --network=bogus`);
  });

  it('refuses FROM --platform of another platform instead of building the host one', async () => {
    const { result, file } = await failingBuild('FROM --platform=linux/s390x busybox-base\nRUN true\n');
    const error = await expectCleanFailure(result);
    expect(error).toContain(`${file}:1:`);
    expect(error).toContain('linux/s390x');
    expect(result.stdout).not.toContain('RUN true');
  });

  it('rejects an invalid -t before running any step', async () => {
    const { result } = await failingBuild('FROM busybox-base\nRUN echo should-not-run\n', { args: ['-t', 'Bad:Name:x'] });
    const error = await expectCleanFailure(result);
    expect(error).toContain('Bad:Name:x');
    expect(result.stdout).not.toContain('should-not-run');
  });

  it('reports a FROM image that does not exist', async () => {
    const { result, file } = await failingBuild('ARG X=1\nFROM no-such-base-image\nRUN true\n');
    const error = await expectCleanFailure(result);
    expect(error).toContain(`${file}:2:`);
    expect(error).toContain('no-such-base-image');
  });

  it('reports a failing RUN with its exit status', async () => {
    const { result, file } = await failingBuild('FROM busybox-base\nRUN echo first > /first\nRUN echo failing && exit 7\nRUN echo never\n');
    const error = await expectCleanFailure(result);
    expect(error).toContain(`${file}:3:`);
    expect(error).toContain('status 7');
    expect(result.stdout).toContain('failing');
    expect(result.stdout).not.toContain('STEP 4/4');
  });

  it('reports an unknown USER when a RUN needs it', async () => {
    const { result, file } = await failingBuild('FROM busybox-base\nUSER nosuchuser\nRUN true\n');
    const error = await expectCleanFailure(result);
    expect(error).toContain(`${file}:3:`);
    expect(error).toContain('nosuchuser');
  });

  it('reports an unknown --target, naming the Containerfile', async () => {
    const { result, file } = await failingBuild('FROM busybox-base AS one\nRUN true\n', { args: ['--target', 'nosuchstage'] });
    const error = await expectCleanFailure(result);
    expect(error).toContain(file);
    expect(error).toContain('nosuchstage');
  });

  it('names a Containerfile given by a relative -f as the user wrote it', async () => {
    const ctx = await contexts.make({ 'build/Containerfile.dev': 'FROM busybox-base\nRUN exit 3\n' });
    const result = await t.run(['bud', '-t', TAG, '-f', 'build/Containerfile.dev', '.'], { cwd: ctx });
    const error = await expectCleanFailure(result);
    expect(error).toMatch(/^Error: build\/Containerfile\.dev:2: /);
  });

  it('reports a Containerfile that does not exist', async () => {
    const ctx = await contexts.make({ 'a.txt': 'a' });
    const missing = path.join(ctx, 'Nope.containerfile');
    const named = await t.run(['bud', '-t', TAG, '-f', missing, ctx]);
    expect(await expectCleanFailure(named)).toContain(missing);
    const none = await t.run(['bud', '-t', TAG, ctx]);
    expect(await expectCleanFailure(none)).toContain(ctx);
  });

  it('reports a build context that does not exist or is a file', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\nRUN echo should-not-run\n' });
    const missing = await t.run(['bud', '-t', TAG, '-f', path.join(ctx, 'Containerfile'), path.join(ctx, 'no-such-dir')]);
    expect(await expectCleanFailure(missing)).toBe(`Error: build context ${path.join(ctx, 'no-such-dir')} does not exist`);
    const file = await t.run(['bud', '-t', TAG, '-f', path.join(ctx, 'Containerfile'), path.join(ctx, 'Containerfile')]);
    expect(await expectCleanFailure(file)).toContain('is not a directory');
    expect(missing.stdout + file.stdout).not.toContain('should-not-run');
  });

  it('reports a Containerfile path that is a directory', async () => {
    const ctx = await contexts.make({ 'sub/a.txt': 'a' });
    await writeFile(path.join(ctx, 'a.txt'), 'a');
    const result = await t.run(['bud', '-t', TAG, '-f', path.join(ctx, 'sub'), ctx]);
    expect(await expectCleanFailure(result)).toContain(path.join(ctx, 'sub'));
  });

  it('stops a build interrupted during a RUN, leaving no container, mount or tag behind', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\nRUN echo started-$((40+2)) && sleep 60 && echo finished-$((3+4))\n' });
    const build = startCli(t, ['bud', '-t', TAG, ctx]);
    // The computed marker is RUN output; the step line only has the expression.
    await build.waitForOutput('started-42');
    const interruptedAt = Date.now();
    build.kill('SIGINT');
    const result = await build.exited;
    expect(Date.now() - interruptedAt).toBeLessThan(10_000);
    const error = await expectCleanFailure(result);
    expect(error).toContain('interrupted');
    expect(result.stdout).not.toContain('finished-7');
    expect(host(['runc', '--root', path.join(t.root, 'runc'), 'list', '-q'])).toBe('');
  });
});
