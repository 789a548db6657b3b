// ARG as the Dockerfile reference defines it: global scope and re-declaration in a stage, ARGs a
// child stage inherits from its parent stage, the predefined proxy args (usable undeclared, kept
// out of history, config and cache keys), the automatic platform args and TARGETSTAGE.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostPlatform } from '../../../src/oci/types.js';
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

describe('ARG scope', () => {
  it('a stage re-declaring a global ARG takes the global value; a stage default loses to --build-arg', async () => {
    const ctx = await contexts.make({
      Containerfile: [
        'ARG G=global-default',
        'ARG OVER=global',
        'FROM busybox-base',
        'ARG G',
        'ARG OVER=stage-default',
        'ARG CLI=stage-default',
        'RUN echo "$G|$OVER|$CLI" > /a.txt',
      ].join('\n'),
    });
    await budOk(t, ctx, ['--build-arg', 'CLI=from-cli', '-t', 'arg-scope']);
    expect(await sh(t, 'arg-scope', 'cat /a.txt')).toBe('global-default|stage-default|from-cli\n');
  });

  it('a stage built FROM another inherits its ARGs, also through a re-declaration; an unrelated stage does not', async () => {
    const ctx = await contexts.make({
      Containerfile: [
        'FROM busybox-base AS parent',
        'ARG LOCAL=in-parent',
        'FROM parent AS child',
        'RUN echo "child:${LOCAL-unset}" > /child.txt',
        'ARG LOCAL',
        'RUN echo "redeclared:${LOCAL-unset}" >> /child.txt',
        'FROM busybox-base AS other',
        'RUN echo "other:${LOCAL-unset}" > /other.txt',
        'FROM child',
        'COPY --from=other /other.txt /other.txt',
      ].join('\n'),
    });
    await budOk(t, ctx, ['-t', 'arg-inherit']);
    expect(await sh(t, 'arg-inherit', 'cat /child.txt /other.txt')).toBe('child:in-parent\nredeclared:in-parent\nother:unset\n');
  });
});

describe('proxy args', () => {
  const PROXY = ['FROM busybox-base', 'RUN echo "${HTTP_PROXY-unset}|${https_proxy-unset}|${NO_PROXY-unset}" > /proxy.txt'].join('\n');

  it('are seen by RUN without an ARG line, and stay out of history and config; no unused-arg warning', async () => {
    const ctx = await contexts.make({ Containerfile: PROXY });
    const result = await budOk(t, ctx, ['--build-arg', 'HTTP_PROXY=http://proxy.example:3128', '--build-arg', 'https_proxy=http://s.example', '-t', 'proxied']);
    expect(await sh(t, 'proxied', 'cat /proxy.txt')).toBe('http://proxy.example:3128|http://s.example|unset\n');
    expect(result.stderr).not.toContain('not consumed');
    const history = JSON.stringify(await inspectJson(t, 'proxied', 'History'));
    expect(history).not.toContain('proxy.example');
    expect(JSON.stringify(await inspectJson(t, 'proxied', 'Config'))).not.toContain('proxy.example');
    expect(await sh(t, 'proxied', 'echo "${HTTP_PROXY-unset}"')).toBe('unset\n');
  });

  it('changing only a proxy does not invalidate the cache', async () => {
    const ctx = await contexts.make({ Containerfile: `${PROXY} cache-test` });
    const first = await budOk(t, ctx, ['--build-arg', 'HTTP_PROXY=http://one.example', '-t', 'proxy-cache']);
    expect(steps(first.stdout).find((s) => s.text.startsWith('RUN'))?.cached).toBe(false);
    const again = await budOk(t, ctx, ['--build-arg', 'HTTP_PROXY=http://two.example', '-t', 'proxy-cache']);
    expect(steps(again.stdout).find((s) => s.text.startsWith('RUN'))?.cached).toBe(true);
  });

  it('an unused ordinary build arg is still warned about', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\n' });
    const result = await budOk(t, ctx, ['--build-arg', 'UNUSED=1', '--build-arg', 'ALL_PROXY=x', '--build-arg', 'SOURCE_DATE_EPOCH=0']);
    expect(result.stderr).toContain('[Warning] one or more build args were not consumed: [UNUSED]');
  });
});

describe('automatic args', () => {
  const host = hostPlatform();
  const PLATFORM = [
    'FROM busybox-base AS first',
    'RUN echo "before:${TARGETARCH-unset}" > /before.txt',
    'ARG TARGETPLATFORM TARGETOS TARGETARCH TARGETVARIANT BUILDPLATFORM BUILDOS BUILDARCH BUILDVARIANT TARGETSTAGE',
    'RUN echo "$TARGETPLATFORM|$TARGETOS|$TARGETARCH|$TARGETVARIANT|$BUILDPLATFORM|$BUILDOS|$BUILDARCH|$BUILDVARIANT|$TARGETSTAGE" > /p.txt',
    'FROM first AS last',
  ].join('\n');

  it('platform args and TARGETSTAGE are usable once declared, not before', async () => {
    const ctx = await contexts.make({ Containerfile: PLATFORM });
    await budOk(t, ctx, ['-t', 'auto-args']);
    const p = `${host.os}/${host.architecture}`;
    expect(await sh(t, 'auto-args', 'cat /before.txt /p.txt')).toBe(`before:unset\n${p}|${host.os}|${host.architecture}||${p}|${host.os}|${host.architecture}||last\n`);
  });

  it('TARGETSTAGE names the --target stage', async () => {
    const ctx = await contexts.make({ Containerfile: PLATFORM });
    await budOk(t, ctx, ['--target', 'first', '-t', 'auto-target']);
    expect((await sh(t, 'auto-target', 'cat /p.txt')).trim().split('|').pop()).toBe('first');
  });

  it('SOURCE_DATE_EPOCH is a build arg like any other once declared', async () => {
    const ctx = await contexts.make({ Containerfile: ['FROM busybox-base', 'ARG SOURCE_DATE_EPOCH', 'RUN echo "$SOURCE_DATE_EPOCH" > /sde.txt'].join('\n') });
    await budOk(t, ctx, ['--build-arg', 'SOURCE_DATE_EPOCH=1700000000', '-t', 'sde-arg']);
    expect(await sh(t, 'sde-arg', 'cat /sde.txt')).toBe('1700000000\n');
  });

  it('a bad SOURCE_DATE_EPOCH is a clear error', async () => {
    const ctx = await contexts.make({ Containerfile: 'FROM busybox-base\n' });
    const result = await bud(t, ctx, ['--build-arg', 'SOURCE_DATE_EPOCH=yesterday']);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim()).toBe('Error: SOURCE_DATE_EPOCH "yesterday": expected seconds since the epoch (a whole number)');
  });
});
