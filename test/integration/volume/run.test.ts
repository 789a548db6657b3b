// Volumes through `tsbuild run/create/rm` end to end: real overlayfs, runc and the monitor.
import { chmod } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Contexts, budOk, setupRoot, teardownRoot, type TestRoot } from '../build/helpers.js';

let t: TestRoot | undefined;
const contexts = new Contexts();

beforeAll(async () => {
  t = await setupRoot();
  const ctx = await contexts.make({
    Containerfile: [
      'FROM busybox-base',
      'RUN mkdir -p /var/db && echo seed > /var/db/seed && chown -R 1000:1000 /var/db',
      'VOLUME /var/db',
    ].join('\n'),
  });
  await budOk(t, ctx, ['-q', '-t', 'dbimg']);
});

afterAll(async () => {
  if (t) {
    const ids = (await t.run(['ps', '-aq'])).stdout.split('\n').filter((l) => l !== '');
    if (ids.length > 0) await t.run(['rm', '-f', '-v', ...ids]);
  }
  await contexts.cleanup();
  await teardownRoot(t);
});

const volumes = async (): Promise<string[]> => (await t!.ok(['volume', 'ls', '-q'])).stdout.split('\n').filter((l) => l !== '');

describe('volumes with run', { timeout: 90_000 }, () => {
  it('run -v pgdata:/data twice keeps the data', async () => {
    await t!.ok(['run', '--rm', '-v', 'pgdata:/data', 'busybox-base', 'sh', '-c', 'echo kept > /data/x']);
    expect((await t!.ok(['run', '--rm', '-v', 'pgdata:/data', 'busybox-base', 'cat', '/data/x'])).stdout).toBe('kept\n');
    expect(await volumes()).toContain('pgdata');
  });

  it('an image VOLUME becomes an anonymous volume filled from the image; rm -v removes it, rm keeps it', async () => {
    const before = await volumes();
    const out = await t!.ok(['run', '--name', 'anon1', 'dbimg', 'sh', '-c', 'stat -c "%u:%g" /var/db/seed; cat /var/db/seed']);
    expect(out.stdout).toBe('1000:1000\nseed\n');
    const added = (await volumes()).filter((v) => !before.includes(v));
    expect(added).toHaveLength(1);
    expect(added[0]).toMatch(/^[0-9a-f]{64}$/);
    const [inspected] = JSON.parse((await t!.ok(['volume', 'inspect', added[0]!])).stdout) as { Anonymous: boolean }[];
    expect(inspected!.Anonymous).toBe(true);
    await t!.ok(['rm', '-v', 'anon1']);
    expect(await volumes()).toEqual(before);

    await t!.ok(['run', '--name', 'anon2', 'dbimg', 'true']);
    const kept = (await volumes()).filter((v) => !before.includes(v));
    await t!.ok(['rm', 'anon2']);
    expect((await volumes()).filter((v) => !before.includes(v))).toEqual(kept);
    await t!.ok(['volume', 'rm', ...kept]);
  });

  it('runs a command that lives on a bind mount, not in the image', async () => {
    const dir = await contexts.make({ 'tool.sh': '#!/bin/sh\necho "tool ran with $1"\n' });
    await chmod(path.join(dir, 'tool.sh'), 0o755);
    expect((await t!.ok(['run', '--rm', '--network', 'none', '-v', `${dir}:/x:ro`, 'busybox-base', '/x/tool.sh', 'an argument'])).stdout).toBe('tool ran with an argument\n');
    const missing = await t!.run(['run', '--rm', '--network', 'none', '-v', `${dir}:/x:ro`, 'busybox-base', '/x/nope']);
    expect(missing.code).toBe(127);
  });

  it('-v over an image VOLUME path uses that volume instead of an anonymous one', async () => {
    const before = await volumes();
    expect((await t!.ok(['run', '--rm', '-v', 'dbvol:/var/db', 'dbimg', 'cat', '/var/db/seed'])).stdout).toBe('seed\n');
    expect((await volumes()).filter((v) => !before.includes(v))).toEqual(['dbvol']);
  });

  it('a volume in use by a running container cannot be removed (exit 125), not even with -f', async () => {
    await t!.ok(['run', '-d', '--name', 'web', '-v', 'busy:/data', 'busybox-base', 'sleep', '60']);
    const res = await t!.run(['volume', 'rm', 'busy']);
    expect(res.code).toBe(125);
    expect(res.stderr.split('\n')[0]).toBe('Error: volume busy is in use by container web');
    expect((await t!.run(['volume', 'rm', '-f', 'busy'])).code).toBe(125);
    expect((await t!.ok(['volume', 'prune', '-f'])).stdout).not.toContain('busy');
    await t!.ok(['rm', '-f', 'web']);
    expect((await t!.ok(['volume', 'rm', 'busy'])).stdout).toBe('busy\n');
  });

  it('create fails with exit 125 and leaves nothing for a missing bind source or a bad mount spec', async () => {
    const before = await volumes();
    const missing = await t!.run(['create', '--name', 'nobind', '-v', '/no/such/dir:/x', 'dbimg', 'true']);
    expect(missing.code).toBe(125);
    expect(missing.stderr).toContain('bind source path does not exist: /no/such/dir');
    const bad = await t!.run(['run', '--rm', '--mount', 'type=bind,target=/x', 'busybox-base', 'true']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toContain('type=bind needs source=');
    const dup = await t!.run(['run', '--rm', '-v', 'a:/d', '--tmpfs', '/d', 'busybox-base', 'true']);
    expect(dup.code).toBe(125);
    expect(dup.stderr).toContain('duplicate mount destination /d');
    expect((await t!.ok(['ps', '-a', '-q'])).stdout).toBe('');
    expect(await volumes()).toEqual(before);
  });
});
