// `tsbuild volume ...` through the real CLI: what a user sees (output, JSON, exit codes, errors).
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultConfig, type ContainerRecord } from '../../../src/container/types.js';
import { writeJsonAtomic } from '../../../src/util/fs.js';
import { createTestRoot, type TestRoot } from '../../helpers/tsbuild.js';

let t: TestRoot;
beforeEach(async () => {
  t = await createTestRoot();
});
afterEach(async () => {
  await t.cleanup();
});

/** A container record that uses the volume, as `create -v NAME:/data` would leave it. */
async function userOf(volume: string, state: ContainerRecord['state'], name = 'db'): Promise<void> {
  const id = randomBytes(32).toString('hex');
  const record: ContainerRecord = {
    id,
    name,
    kind: 'container',
    image: 'busybox',
    imageId: `sha256:${'0'.repeat(64)}`,
    created: new Date().toISOString(),
    state,
    config: defaultConfig({ mounts: [{ type: 'volume', source: volume, target: '/data', readonly: false, options: [] }] }),
  };
  await writeJsonAtomic(path.join(t.root, 'containers', id, 'container.json'), record);
}

describe('tsbuild volume', { timeout: 60_000 }, () => {
  it('create prints the name, a generated one when none is given', async () => {
    expect((await t.ok(['volume', 'create', 'pgdata'])).stdout).toBe('pgdata\n');
    const generated = (await t.ok(['volume', 'create'])).stdout.trim();
    expect(generated).toMatch(/^[0-9a-f]{64}$/);
    const st = await stat(path.join(t.root, 'volumes', 'pgdata', '_data'));
    expect([st.isDirectory(), st.mode & 0o777, st.uid]).toEqual([true, 0o755, 0]);
  });

  it('create refuses a taken or invalid name with exit 125', async () => {
    await t.ok(['volume', 'create', 'v']);
    expect(await t.run(['volume', 'create', 'v'])).toMatchObject({ code: 125, stderr: 'Error: volume v already exists\n' });
    const bad = await t.run(['volume', 'create', '-bad']);
    expect(bad.code).not.toBe(0);
    const bad2 = await t.run(['volume', 'create', 'a/b']);
    expect(bad2.code).toBe(125);
    expect(bad2.stderr).toMatch(/^Error: invalid volume name "a\/b"/);
  });

  it('inspect shows the podman fields; labels and --opt o=uid= are kept', async () => {
    await t.ok(['volume', 'create', '--label', 'app=db', '--label', 'tier=back', '--opt', 'o=uid=1000,gid=1000', 'pgdata']);
    const [v] = JSON.parse((await t.ok(['volume', 'inspect', 'pgdata'])).stdout) as Record<string, unknown>[];
    expect(v).toMatchObject({
      Name: 'pgdata',
      Driver: 'local',
      Mountpoint: path.join(t.root, 'volumes', 'pgdata', '_data'),
      Labels: { app: 'db', tier: 'back' },
      Options: { o: 'uid=1000,gid=1000' },
      Scope: 'local',
    });
    expect(Number.isNaN(Date.parse(v!.CreatedAt as string))).toBe(false);
    const st = await stat(v!.Mountpoint as string);
    expect([st.uid, st.gid]).toEqual([1000, 1000]);
    expect((await t.ok(['volume', 'inspect', '-f', '{{.Mountpoint}}', 'pgdata'])).stdout.trim()).toBe(v!.Mountpoint);
    expect(await t.run(['volume', 'inspect', 'pgdata', 'nope'])).toMatchObject({ code: 125, stdout: '', stderr: 'Error: no such volume nope\n' });
    const opt = await t.run(['volume', 'create', '--opt', 'type=nfs', 'x']);
    expect(opt.code).toBe(125);
    expect(opt.stderr).toContain('volume option "type" is not supported');
  });

  it('ls lists, -q prints names, --format json, and filters by name and dangling', async () => {
    for (const n of ['alpha', 'beta', 'gamma']) await t.ok(['volume', 'create', n]);
    await userOf('beta', 'exited');
    expect((await t.ok(['volume', 'ls'])).stdout).toBe('DRIVER   VOLUME NAME\nlocal    alpha\nlocal    beta\nlocal    gamma\n');
    expect((await t.ok(['volume', 'ls', '-q'])).stdout).toBe('alpha\nbeta\ngamma\n');
    const json = JSON.parse((await t.ok(['volume', 'ls', '--format', 'json'])).stdout) as { Name: string }[];
    expect(json.map((v) => v.Name)).toEqual(['alpha', 'beta', 'gamma']);
    expect((await t.ok(['volume', 'ls', '-q', '--filter', 'name=a'])).stdout).toBe('alpha\nbeta\ngamma\n');
    expect((await t.ok(['volume', 'ls', '-q', '--filter', 'name=mm'])).stdout).toBe('gamma\n');
    expect((await t.ok(['volume', 'ls', '-q', '--filter', 'dangling=true'])).stdout).toBe('alpha\ngamma\n');
    expect((await t.ok(['volume', 'ls', '-q', '--filter', 'dangling=false'])).stdout).toBe('beta\n');
    expect((await t.ok(['volume', 'ls', '-q', '--filter', 'dangling=true', '--filter', 'name=al'])).stdout).toBe('alpha\n');
    expect((await t.run(['volume', 'ls', '--filter', 'colour=red'])).code).toBe(125);
  });

  it('rm removes volumes and refuses one in use with exit 125; -f only when its user is not running', async () => {
    await t.ok(['volume', 'create', 'a']);
    await t.ok(['volume', 'create', 'b']);
    expect((await t.ok(['volume', 'rm', 'a'])).stdout).toBe('a\n');
    expect(await t.run(['volume', 'rm', 'a'])).toMatchObject({ code: 125, stderr: 'Error: no such volume a\n' });

    await userOf('b', 'running', 'web');
    const inUse = await t.run(['volume', 'rm', 'b']);
    expect(inUse.code).toBe(125);
    expect(inUse.stderr.split('\n')[0]).toBe('Error: volume b is in use by container web');
    expect((await t.run(['volume', 'rm', '-f', 'b'])).code).toBe(125);
    expect((await t.ok(['volume', 'ls', '-q'])).stdout).toBe('b\n');

    await t.ok(['volume', 'create', 'c']);
    await userOf('c', 'exited', 'old');
    expect((await t.run(['volume', 'rm', 'c'])).code).toBe(125);
    expect((await t.ok(['volume', 'rm', '-f', 'c'])).stdout).toBe('c\n');
    expect((await t.ok(['volume', 'ls', '-q'])).stdout).toBe('b\n');
  });

  it('prune removes only the volumes no container uses and prints their names', async () => {
    for (const n of ['used', 'free1', 'free2']) await t.ok(['volume', 'create', n]);
    await userOf('used', 'exited');
    expect((await t.ok(['volume', 'prune', '-f'])).stdout).toBe('free1\nfree2\n');
    expect((await t.ok(['volume', 'ls', '-q'])).stdout).toBe('used\n');
    expect((await t.ok(['volume', 'prune', '-f'])).stdout).toBe('');
  });
});
