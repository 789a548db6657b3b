import { describe, expect, it } from 'vitest';
import { TsbuildError } from '../../../src/errors.js';
import { parseMountFlags } from '../../../src/volume/mount-flags.js';

function fails(flags: Parameters<typeof parseMountFlags>[0], message: string | RegExp): void {
  let caught: unknown;
  try {
    parseMountFlags(flags);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(TsbuildError);
  const err = caught as TsbuildError;
  expect(err.code).toBe('INVALID_ARGUMENT');
  expect(err.exitCode).toBe(125);
  expect(err.message).toMatch(message);
}

describe('-v / --volume', () => {
  it('reads a bind mount with options', () => {
    expect(parseMountFlags({ volume: ['/host/dir:/ctr:ro,z,rslave'] })).toEqual([
      { type: 'bind', source: '/host/dir', target: '/ctr', readonly: true, options: ['z', 'rslave'] },
    ]);
  });

  it('reads a bind mount without options as read-write', () => {
    expect(parseMountFlags({ volume: ['/h:/c'] })).toEqual([{ type: 'bind', source: '/h', target: '/c', readonly: false, options: [] }]);
  });

  it('reads a named volume, with nocopy', () => {
    expect(parseMountFlags({ volume: ['pgdata:/var/lib/pg', 'cache.v1:/cache:nocopy,rw'] })).toEqual([
      { type: 'volume', source: 'pgdata', target: '/var/lib/pg', readonly: false, options: [] },
      { type: 'volume', source: 'cache.v1', target: '/cache', readonly: false, options: ['nocopy'] },
    ]);
  });

  it('reads an anonymous volume, with or without options', () => {
    expect(parseMountFlags({ volume: ['/data', '/logs:ro'] })).toEqual([
      { type: 'volume', source: '', target: '/data', readonly: false, options: [], anonymous: true },
      { type: 'volume', source: '', target: '/logs', readonly: true, options: [], anonymous: true },
    ]);
  });

  it('normalises the target', () => {
    expect(parseMountFlags({ volume: ['v:/data/./x/'] })[0]!.target).toBe('/data/x');
  });

  it('accepts z, Z, propagation and exec flags', () => {
    for (const opt of ['z', 'Z', 'shared', 'slave', 'private', 'rshared', 'rslave', 'rprivate', 'noexec', 'nosuid', 'nodev']) {
      expect(parseMountFlags({ volume: [`/h:/c:${opt}`] })[0]!.options).toEqual([opt]);
    }
  });

  it('rejects bad values, naming them', () => {
    fails({ volume: ['relative/path:/c'] }, /invalid volume name "relative\/path"/);
    fails({ volume: ['./here:/c'] }, /bind source path "\.\/here" must be absolute/);
    fails({ volume: ['/h:ctr'] }, /unknown option "ctr"/);
    fails({ volume: ['v:ctr:ro'] }, /container path "ctr" must be absolute/);
    fails({ volume: ['/h:/c:bogus'] }, /-v "\/h:\/c:bogus": unknown option "bogus"/);
    fails({ volume: ['/h:/c:ro,rw'] }, /"ro" and "rw" cannot both be given/);
    fails({ volume: ['/h:/c:shared,private'] }, /more than one propagation option/);
    fails({ volume: ['/h:/c:nocopy'] }, /"nocopy" applies to volumes/);
    fails({ volume: ['/h:/c:U'] }, /"U".*not supported/);
    fails({ volume: ['a:/b:ro:x'] }, /too many ":"/);
    fails({ volume: ['v:/'] }, /cannot mount over the container's root/);
    fails({ volume: [':/c'] }, /empty source/);
    fails({ volume: ['v:/c:'] }, /empty options/);
    fails({ volume: ['data'] }, /container path "data" must be absolute/);
  });
});

describe('--mount', () => {
  it('reads type=bind with readonly and propagation', () => {
    expect(parseMountFlags({ mount: ['type=bind,source=/h,target=/c,readonly,bind-propagation=rshared'] })).toEqual([
      { type: 'bind', source: '/h', target: '/c', readonly: true, options: ['rshared'] },
    ]);
    expect(parseMountFlags({ mount: ['type=bind,src=/h,dst=/c,ro=true'] })[0]!.readonly).toBe(true);
    expect(parseMountFlags({ mount: ['type=bind,src=/h,destination=/c,ro=false'] })[0]!.readonly).toBe(false);
  });

  it('reads type=volume, named or anonymous, with volume-nocopy', () => {
    expect(parseMountFlags({ mount: ['type=volume,source=v1,target=/c,ro,volume-nocopy'] })).toEqual([
      { type: 'volume', source: 'v1', target: '/c', readonly: true, options: ['nocopy'] },
    ]);
    expect(parseMountFlags({ mount: ['type=volume,target=/c'] })).toEqual([
      { type: 'volume', source: '', target: '/c', readonly: false, options: [], anonymous: true },
    ]);
    // docker's default type
    expect(parseMountFlags({ mount: ['source=v2,target=/d'] })[0]).toMatchObject({ type: 'volume', source: 'v2' });
  });

  it('reads type=tmpfs with size and mode', () => {
    expect(parseMountFlags({ mount: ['type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1777'] })).toEqual([
      { type: 'tmpfs', source: '', target: '/t', readonly: false, options: ['size=64m', 'mode=1777'] },
    ]);
  });

  it('rejects bad values, naming them', () => {
    fails({ mount: ['type=nfs,target=/c'] }, /unknown mount type "nfs"/);
    fails({ mount: ['type=bind,source=/h'] }, /target= is required/);
    fails({ mount: ['type=bind,target=/c'] }, /type=bind needs source=/);
    fails({ mount: ['type=bind,source=rel,target=/c'] }, /bind source path "rel" must be absolute/);
    fails({ mount: ['type=bind,source=/h,target=/c,bind-propagation=sideways'] }, /invalid bind-propagation "sideways"/);
    fails({ mount: ['type=bind,source=/h,target=/c,tmpfs-size=1m'] }, /"tmpfs-size" does not apply to type=bind/);
    fails({ mount: ['type=tmpfs,source=/h,target=/c'] }, /"source" does not apply to type=tmpfs/);
    fails({ mount: ['type=volume,source=v,target=/c,colour=red'] }, /unknown key "colour"/);
    fails({ mount: ['type=volume,source=v,target=/c,readonly=maybe'] }, /readonly="maybe" is not a boolean/);
    fails({ mount: ['type=volume,source=bad/name,target=/c'] }, /invalid volume name "bad\/name"/);
    fails({ mount: ['type=tmpfs,target=/t,tmpfs-size=lots'] }, /invalid tmpfs size "lots"/);
    fails({ mount: ['type=tmpfs,target=/t,tmpfs-mode=999'] }, /invalid tmpfs mode "999"/);
    fails({ mount: ['type=volume,target=/a,target=/b'] }, /"target" given twice/);
    fails({ mount: ['type=volume,target=rel'] }, /container path "rel" must be absolute/);
  });
});

describe('--tmpfs', () => {
  it('reads a target with options', () => {
    expect(parseMountFlags({ tmpfs: ['/run', '/scratch:size=64m,mode=1777,noexec'] })).toEqual([
      { type: 'tmpfs', source: '', target: '/run', readonly: false, options: [] },
      { type: 'tmpfs', source: '', target: '/scratch', readonly: false, options: ['size=64m', 'mode=1777', 'noexec'] },
    ]);
    expect(parseMountFlags({ tmpfs: ['/ro:ro,size=1g'] })[0]).toMatchObject({ readonly: true, options: ['size=1g'] });
  });

  it('rejects bad values, naming them', () => {
    fails({ tmpfs: ['run'] }, /--tmpfs "run": container path "run" must be absolute/);
    fails({ tmpfs: ['/t:size=big'] }, /invalid tmpfs size "big"/);
    fails({ tmpfs: ['/t:colour=red'] }, /unknown or invalid tmpfs option "colour=red"/);
  });
});

describe('across flags', () => {
  it('rejects a destination mounted twice', () => {
    fails({ volume: ['a:/data'], tmpfs: ['/data/'] }, 'duplicate mount destination /data');
    fails({ volume: ['/h:/x', 'v:/x'] }, 'duplicate mount destination /x');
  });

  it('keeps the order -v, --mount, --tmpfs', () => {
    const m = parseMountFlags({ volume: ['a:/a'], mount: ['type=tmpfs,target=/b'], tmpfs: ['/c'] });
    expect(m.map((x) => x.target)).toEqual(['/a', '/b', '/c']);
  });
});
