// Heredocs in RUN, COPY and ADD, as BuildKit (Dockerfile frontend 1.26) runs them, through the real
// CLI: what ends up in the image, the history, the cache, and the errors for bad heredocs. There is
// no side-by-side test with buildah here: Debian's buildah 1.28 does not support heredocs (it reads
// `COPY <<EOF /x` as a source path "<<EOF" and the body lines of a RUN heredoc as instructions).
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

const T = '\t';

const MAIN = [
  'FROM busybox-base',
  'ARG WHO=arg-value',
  'ENV GREETING=hello',
  'RUN <<EOF',
  'echo one > /run-lone',
  'echo "two $GREETING" >> /run-lone',
  'EOF',
  'RUN <<-EOF',
  `${T}${T}echo tabbed > /run-chomp`,
  `${T}EOF`,
  "RUN <<'EOF'",
  'echo "$GREETING" > /run-quoted',
  'EOF',
  'RUN cat <<A > /run-a && cat <<"B" > /run-b',
  'line a $GREETING',
  'A',
  'line b $GREETING',
  'B',
  'RUN <<EOT sh',
  'echo "interpreted by $0" > /run-interp',
  'EOT',
  'RUN <<EOF',
  '#!/bin/sh',
  'echo "$0" > /run-script',
  'EOF',
  'COPY <<EOF /copied/expanded.txt',
  'greeting=$GREETING who=${WHO} "quotes stay" \\$literal',
  'EOF',
  "COPY <<'EOF' /copied/raw.txt",
  'greeting=$GREETING',
  'EOF',
  'COPY --chmod=750 --chown=1000:1001 <<A <<B /copied/dir/',
  'first',
  'A',
  'second',
  'B',
  'COPY <<-EOF /copied/chomped.txt',
  `${T}indented`,
  `${T}EOF`,
  'ADD <<EOF /added.txt',
  'added by $WHO',
  'EOF',
].join('\n');

describe('heredocs', () => {
  beforeAll(async () => {
    const ctx = await contexts.make({ Containerfile: `${MAIN}\n` });
    await budOk(t, ctx, ['-t', 'heredocs']);
  });

  it('runs a heredoc that is the whole RUN command with the shell', async () => {
    expect(await sh(t, 'heredocs', 'cat /run-lone')).toBe('one\ntwo hello\n');
  });

  it('strips leading tabs from the body and the delimiter of <<-', async () => {
    expect(await sh(t, 'heredocs', 'cat /run-chomp')).toBe('tabbed\n');
  });

  it('leaves expansion of a RUN body to the shell even with a quoted delimiter, as BuildKit does', async () => {
    expect(await sh(t, 'heredocs', 'cat /run-quoted')).toBe('hello\n');
  });

  it('passes several heredocs on one line to the shell, which honours each delimiter', async () => {
    expect(await sh(t, 'heredocs', 'cat /run-a /run-b')).toBe('line a hello\nline b $GREETING\n');
  });

  it('feeds the body to an interpreter named after the heredoc', async () => {
    expect(await sh(t, 'heredocs', 'cat /run-interp')).toMatch(/^interpreted by (\/bin\/)?sh\n$/);
  });

  it('runs a #! body as a script from /dev/pipes and leaves nothing of it in the image', async () => {
    expect(await sh(t, 'heredocs', 'cat /run-script')).toBe('/dev/pipes/EOF\n');
    expect(await sh(t, 'heredocs', 'ls -a /dev/pipes 2>&1 || true')).toMatch(/No such file/);
  });

  it('writes COPY heredocs as files, expanded with ARG and ENV, quotes and escapes as BuildKit treats them', async () => {
    expect(await sh(t, 'heredocs', 'cat /copied/expanded.txt')).toBe('greeting=hello who=arg-value "quotes stay" $literal\n');
    expect(await sh(t, 'heredocs', 'stat -c %a:%u:%g /copied/expanded.txt')).toBe('644:0:0\n');
  });

  it('does not expand a COPY heredoc with a quoted delimiter', async () => {
    expect(await sh(t, 'heredocs', 'cat /copied/raw.txt')).toBe('greeting=$GREETING\n');
  });

  it('copies several heredocs into a directory with --chmod and --chown', async () => {
    expect(await sh(t, 'heredocs', 'cat /copied/dir/A /copied/dir/B')).toBe('first\nsecond\n');
    expect(await sh(t, 'heredocs', 'stat -c %a:%u:%g /copied/dir/A /copied/dir/B')).toBe('750:1000:1001\n750:1000:1001\n');
  });

  it('strips tabs from a COPY <<- body', async () => {
    expect(await sh(t, 'heredocs', 'cat /copied/chomped.txt')).toBe('indented\n');
  });

  it('writes an ADD heredoc like COPY', async () => {
    expect(await sh(t, 'heredocs', 'cat /added.txt')).toBe('added by arg-value\n');
  });

  it('records the heredoc bodies in the history', async () => {
    const history = await inspectJson<{ created_by?: string }[]>(t, 'heredocs', 'History');
    const createdBy = history.map((h) => h.created_by ?? '');
    expect(createdBy).toContain('/bin/sh -c echo one > /run-lone\necho "two $GREETING" >> /run-lone\n');
    expect(createdBy).toContain('/bin/sh -c cat <<A > /run-a && cat <<"B" > /run-b\nline a $GREETING\nA\nline b $GREETING\nB');
    expect(createdBy).toContain('/bin/sh -c /dev/pipes/EOF\n#!/bin/sh\necho "$0" > /run-script\n');
  });
});

describe('heredocs and the cache', () => {
  it('reruns a RUN or COPY heredoc whose body changed, and only that one', async () => {
    const file = (script: string, copied: string): string =>
      ['FROM busybox-base', 'RUN <<EOF', '#!/bin/sh', `echo ${script} > /script`, 'EOF', 'COPY <<EOF /copied', copied, 'EOF', ''].join('\n');
    const first = await contexts.make({ Containerfile: file('one', 'a') });
    await budOk(t, first, ['-t', 'hd-cache']);
    expect(steps((await budOk(t, first, ['-t', 'hd-cache'])).stdout).map((s) => s.cached)).toEqual([false, true, true]);
    const script = await contexts.make({ Containerfile: file('two', 'a') });
    expect(steps((await budOk(t, script, ['-t', 'hd-cache'])).stdout).map((s) => s.cached)).toEqual([false, false, false]);
    expect(await sh(t, 'hd-cache', 'cat /script')).toBe('two\n');
    const copied = await contexts.make({ Containerfile: file('two', 'b') });
    expect(steps((await budOk(t, copied, ['-t', 'hd-cache'])).stdout).map((s) => s.cached)).toEqual([false, true, false]);
    expect(await sh(t, 'hd-cache', 'cat /copied')).toBe('b\n');
  });
});

describe('heredocs elsewhere', () => {
  it('runs a #! script as the RUN user', async () => {
    const ctx = await contexts.make({
      Containerfile: ['FROM busybox-base', 'USER 1000:1000', 'RUN <<EOF', '#!/bin/sh', 'id -u > /tmp/uid', 'EOF', ''].join('\n'),
    });
    await budOk(t, ctx, ['-t', 'hd-user']);
    expect(await sh(t, 'hd-user', 'cat /tmp/uid')).toBe('1000\n');
  });

  it('copies path sources and heredocs of one COPY into the same directory', async () => {
    const ctx = await contexts.make({
      Containerfile: ['FROM busybox-base', 'COPY file.txt <<EOF /mixed/', 'inline', 'EOF', ''].join('\n'),
      'file.txt': 'from context\n',
    });
    await budOk(t, ctx, ['-t', 'hd-mixed']);
    expect(await sh(t, 'hd-mixed', 'cat /mixed/file.txt /mixed/EOF')).toBe('from context\ninline\n');
  });

  it('runs an ONBUILD RUN heredoc in the child build', async () => {
    const parent = await contexts.make({ Containerfile: ['FROM busybox-base', 'ONBUILD RUN <<EOF', 'echo triggered > /onbuild', 'EOF', ''].join('\n') });
    await budOk(t, parent, ['-t', 'hd-parent']);
    expect(await inspectJson<string[]>(t, 'hd-parent', 'Config.OnBuild')).toEqual(['RUN <<EOF\necho triggered > /onbuild\nEOF']);
    const child = await contexts.make({ Containerfile: 'FROM hd-parent\n' });
    await budOk(t, child, ['-t', 'hd-child']);
    expect(await sh(t, 'hd-child', 'cat /onbuild')).toBe('triggered\n');
  });

  it('fails an unterminated heredoc with file, line and column and shows the line', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\nRUN cat <<EOF\nno end\n' });
    const result = await bud(t, ctx, ['-t', 'hd-unterminated']);
    expect(result.code).not.toBe(0);
    const file = path.join(ctx, 'Containerfile');
    expect(result.stderr).toContain(`Error: ${file}:2:9: unterminated heredoc`);
    expect(result.stderr).toContain('   2 | RUN cat <<EOF\n     |         ^\n');
  });

  it('refuses a heredoc as the COPY destination', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\nCOPY a <<EOF\nx\nEOF\n', a: 'a' });
    const result = await bud(t, ctx);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('COPY cannot accept a heredoc as a destination');
  });
});
