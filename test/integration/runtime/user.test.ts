// USER resolution against an image's /etc/passwd and /etc/group, and the ids a container then runs with.
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isTsbuildError } from '../../../src/errors.js';
import { resolveUser } from '../../../src/runtime/user.js';
import { createFixture, requireTools, runCollect, shellSpec, writeEtc, type Fixture } from './helpers.js';

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  '# a comment line',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'app:x:1000:1000:App User:/home/app:/bin/sh',
  'broken line without fields',
  '',
].join('\n');

const GROUP = [
  'root:x:0:',
  'wheel:x:10:root,app',
  'audio:x:29:app',
  'app:x:1000:',
  'staff:x:50:daemon',
  '',
].join('\n');

describe('resolveUser', { timeout: 30_000 }, () => {
  let fx: Fixture;
  beforeAll(requireTools);
  beforeEach(async () => {
    fx = await createFixture();
    await writeEtc(fx.rootfs, { passwd: PASSWD, group: GROUP });
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  it('treats an empty or missing USER as root with root\'s supplementary groups', async () => {
    expect(await resolveUser(fx.rootfs, undefined)).toEqual({ uid: 0, gid: 0, additionalGids: [10] });
    expect(await resolveUser(fx.rootfs, '')).toEqual({ uid: 0, gid: 0, additionalGids: [10] });
  });

  it('resolves a name to its uid, primary gid and supplementary groups', async () => {
    expect(await resolveUser(fx.rootfs, 'app')).toEqual({ uid: 1000, gid: 1000, additionalGids: [10, 29] });
    expect(await resolveUser(fx.rootfs, 'daemon')).toEqual({ uid: 1, gid: 1, additionalGids: [50] });
  });

  it('resolves a numeric uid through passwd when it is listed, and to gid 0 when it is not', async () => {
    expect(await resolveUser(fx.rootfs, '1000')).toEqual({ uid: 1000, gid: 1000, additionalGids: [10, 29] });
    expect(await resolveUser(fx.rootfs, '4242')).toEqual({ uid: 4242, gid: 0, additionalGids: [] });
  });

  it('uses an explicit group by name or number, without supplementary groups', async () => {
    expect(await resolveUser(fx.rootfs, 'app:audio')).toEqual({ uid: 1000, gid: 29, additionalGids: [] });
    expect(await resolveUser(fx.rootfs, 'app:777')).toEqual({ uid: 1000, gid: 777, additionalGids: [] });
    expect(await resolveUser(fx.rootfs, '4242:staff')).toEqual({ uid: 4242, gid: 50, additionalGids: [] });
    expect(await resolveUser(fx.rootfs, '4242:4343')).toEqual({ uid: 4242, gid: 4343, additionalGids: [] });
  });

  it('fails with NOT_FOUND for an unknown user or group name', async () => {
    const user = await resolveUser(fx.rootfs, 'nobody-here').catch((e: unknown) => e);
    expect(isTsbuildError(user, 'NOT_FOUND')).toBe(true);
    expect((user as Error).message).toBe('unable to find user nobody-here: no matching entries in passwd file');
    const group = await resolveUser(fx.rootfs, 'app:nogroup').catch((e: unknown) => e);
    expect(isTsbuildError(group, 'NOT_FOUND')).toBe(true);
    expect((group as Error).message).toBe('unable to find group nogroup: no matching entries in group file');
  });

  it('works without passwd and group files for numeric ids only', async () => {
    const bare = path.join(fx.dir, 'bare');
    await mkdir(bare);
    expect(await resolveUser(bare, '123:456')).toEqual({ uid: 123, gid: 456, additionalGids: [] });
    expect(await resolveUser(bare, '')).toEqual({ uid: 0, gid: 0, additionalGids: [] });
    await expect(resolveUser(bare, 'app')).rejects.toThrow('unable to find user app');
  });

  it('rejects ids out of range', async () => {
    await expect(resolveUser(fx.rootfs, '4294967296')).rejects.toThrow(/out of range/);
  });

  it('never reads a passwd file outside the rootfs through a symlink', async () => {
    // On the host, rootfs/etc/../../outside-passwd would be fx.dir/outside-passwd; in the container it is /outside-passwd.
    await writeFile(path.join(fx.dir, 'outside-passwd'), 'escapee:x:666:666::/:/bin/sh\n');
    const rootfs = path.join(fx.dir, 'linked');
    await mkdir(path.join(rootfs, 'etc'), { recursive: true });
    await symlink('../../outside-passwd', path.join(rootfs, 'etc', 'passwd'));
    await expect(resolveUser(rootfs, 'escapee')).rejects.toThrow('unable to find user escapee');
  });

  it('runs the container process with the resolved ids', async () => {
    const user = await resolveUser(fx.rootfs, 'app');
    const result = await runCollect(fx, shellSpec(fx.rootfs, 'id', { user }));
    expect(result.stdout).toBe('uid=1000(app) gid=1000(app) groups=10(wheel),29(audio)\n');
  });
});
