import { describe, expect, it } from 'vitest';
import { TsbuildError } from '../../../src/errors.js';
import { formatReference, isShortName, parseReference, referenceString } from '../../../src/remote/reference.js';

const D = `sha256:${'a'.repeat(64)}`;

/** The TsbuildError thrown by `fn`, so a test can check its code and message together. */
function thrown(fn: () => unknown): TsbuildError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TsbuildError);
    return err as TsbuildError;
  }
  throw new Error('expected an error');
}

describe('parseReference: docker.io defaults', () => {
  it('puts a one-component name under docker.io/library with tag latest', () => {
    expect(parseReference('busybox')).toEqual({ registry: 'docker.io', repository: 'library/busybox', tag: 'latest' });
  });

  it('puts a two-component name on docker.io without library/', () => {
    expect(parseReference('team/app:1.0')).toEqual({ registry: 'docker.io', repository: 'team/app', tag: '1.0' });
  });

  it('adds library/ to an explicit docker.io one-component name', () => {
    expect(parseReference('docker.io/busybox')).toEqual({ registry: 'docker.io', repository: 'library/busybox', tag: 'latest' });
  });

  it('treats index.docker.io as docker.io', () => {
    expect(parseReference('index.docker.io/library/alpine:3')).toEqual({ registry: 'docker.io', repository: 'library/alpine', tag: '3' });
    expect(parseReference('index.docker.io/alpine')).toEqual({ registry: 'docker.io', repository: 'library/alpine', tag: 'latest' });
  });

  it('does not add library/ on other registries', () => {
    expect(parseReference('quay.io/busybox')).toEqual({ registry: 'quay.io', repository: 'busybox', tag: 'latest' });
  });
});

describe('parseReference: registries', () => {
  it('recognises a host with a port', () => {
    expect(parseReference('localhost:5000/team/app:v2')).toEqual({ registry: 'localhost:5000', repository: 'team/app', tag: 'v2' });
    expect(parseReference('127.0.0.1:41235/busybox')).toEqual({ registry: '127.0.0.1:41235', repository: 'busybox', tag: 'latest' });
  });

  it('recognises localhost without a port', () => {
    expect(parseReference('localhost/app')).toEqual({ registry: 'localhost', repository: 'app', tag: 'latest' });
  });

  it('reads a lone "localhost:5000" as the image localhost with tag 5000, as docker does', () => {
    expect(parseReference('localhost:5000')).toEqual({ registry: 'docker.io', repository: 'library/localhost', tag: '5000' });
  });

  it('treats a dotless, portless first component as a namespace on docker.io', () => {
    expect(parseReference('myregistry/app')).toEqual({ registry: 'docker.io', repository: 'myregistry/app', tag: 'latest' });
  });

  it('accepts a bracketed IPv6 registry', () => {
    expect(parseReference('[::1]:5000/app')).toEqual({ registry: '[::1]:5000', repository: 'app', tag: 'latest' });
  });

  it('strips the docker:// transport prefix', () => {
    expect(parseReference('docker://localhost:5000/app:1')).toEqual({ registry: 'localhost:5000', repository: 'app', tag: '1' });
    expect(parseReference('docker://busybox')).toEqual({ registry: 'docker.io', repository: 'library/busybox', tag: 'latest' });
  });
});

describe('parseReference: digests', () => {
  it('keeps a digest without inventing a tag', () => {
    expect(parseReference(`busybox@${D}`)).toEqual({ registry: 'docker.io', repository: 'library/busybox', digest: D });
  });

  it('keeps both a tag and a digest', () => {
    expect(parseReference(`quay.io/a/b:1.2@${D}`)).toEqual({ registry: 'quay.io', repository: 'a/b', tag: '1.2', digest: D });
  });

  it('keeps a digest after a registry port', () => {
    expect(parseReference(`localhost:5000/app@${D}`)).toEqual({ registry: 'localhost:5000', repository: 'app', digest: D });
  });
});

describe('parseReference: invalid references', () => {
  it('rejects an empty reference', () => {
    const err = thrown(() => parseReference(''));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toBe('invalid image reference "": empty reference');
    expect(thrown(() => parseReference('docker://')).message).toContain('empty reference');
  });

  it('rejects upper case in the repository', () => {
    const err = thrown(() => parseReference('Busybox'));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toBe('invalid image reference "Busybox": repository name must be lowercase');
    expect(thrown(() => parseReference('quay.io/Team/app')).message).toContain('must be lowercase');
  });

  it('rejects a bad tag', () => {
    expect(thrown(() => parseReference('busybox:-bad')).message).toMatch(/^invalid image reference "busybox:-bad": invalid tag "-bad"/);
    expect(thrown(() => parseReference('busybox:')).message).toContain('invalid tag ""');
    expect(thrown(() => parseReference(`busybox:${'x'.repeat(129)}`)).message).toContain('invalid tag');
  });

  it('rejects a bad digest', () => {
    expect(thrown(() => parseReference('busybox@sha256:abc')).message).toMatch(/invalid digest "sha256:abc"/);
    expect(thrown(() => parseReference(`busybox@md5:${'a'.repeat(64)}`)).message).toContain('invalid digest');
    expect(thrown(() => parseReference(`busybox@sha256:${'A'.repeat(64)}`)).message).toContain('invalid digest');
  });

  it('rejects bad repository components', () => {
    expect(thrown(() => parseReference('team//app')).message).toContain('invalid repository name component ""');
    expect(thrown(() => parseReference('team/-app')).message).toContain('invalid repository name component "-app"');
    expect(thrown(() => parseReference('team/app_')).message).toContain('invalid repository name component "app_"');
    expect(thrown(() => parseReference('quay.io/')).message).toContain('missing repository name');
  });

  it('accepts separators inside components', () => {
    expect(parseReference('a__b/c-d--e/f.g_h').repository).toBe('a__b/c-d--e/f.g_h');
  });

  it('rejects a bad registry host', () => {
    expect(thrown(() => parseReference('bad_host.io/app')).message).toContain('invalid registry host "bad_host.io"');
    expect(thrown(() => parseReference('host:port/app')).message).toContain('invalid registry host');
  });

  it('rejects a name longer than 255 characters', () => {
    const long = `quay.io/${'a'.repeat(250)}`;
    expect(thrown(() => parseReference(long)).message).toContain('must not be longer than 255 characters');
    expect(parseReference(`quay.io/${'a'.repeat(247)}`).repository).toHaveLength(247);
  });

  it('rejects a bare image ID as a name', () => {
    expect(thrown(() => parseReference('a'.repeat(64))).message).toContain('image ID');
  });
});

describe('formatReference and referenceString', () => {
  it('formats tag, digest, and tag plus digest', () => {
    expect(formatReference({ registry: 'docker.io', repository: 'library/busybox', tag: 'latest' })).toBe('docker.io/library/busybox:latest');
    expect(formatReference({ registry: 'localhost:5000', repository: 'app', digest: D })).toBe(`localhost:5000/app@${D}`);
    expect(formatReference({ registry: 'quay.io', repository: 'a/b', tag: '1', digest: D })).toBe(`quay.io/a/b:1@${D}`);
  });

  it('round-trips through parseReference', () => {
    for (const input of ['busybox', 'team/app:1.0', 'localhost:5000/x/y/z:t', `quay.io/a@${D}`, `[::1]:5000/a:b@${D}`, 'docker://registry.example.com/a']) {
      const ref = parseReference(input);
      expect(parseReference(formatReference(ref))).toEqual(ref);
    }
  });

  it('uses the digest for API calls when pinned, else the tag', () => {
    expect(referenceString(parseReference(`busybox:1@${D}`))).toBe(D);
    expect(referenceString(parseReference('busybox:1'))).toBe('1');
    expect(referenceString({ registry: 'docker.io', repository: 'library/busybox' })).toBe('latest');
  });
});

describe('isShortName', () => {
  it('is true without a registry domain', () => {
    expect(isShortName('busybox')).toBe(true);
    expect(isShortName('team/app:1')).toBe(true);
    expect(isShortName(`busybox@${D}`)).toBe(true);
    expect(isShortName('docker://team/app')).toBe(true);
  });

  it('is false with a registry domain', () => {
    expect(isShortName('docker.io/library/busybox')).toBe(false);
    expect(isShortName('localhost/app')).toBe(false);
    expect(isShortName('localhost:5000/app')).toBe(false);
    expect(isShortName('quay.io/a/b:1')).toBe(false);
  });
});

describe('parseReference: hostile input', () => {
  it('refuses a long name with a bad character at once (no exponential backtracking)', () => {
    const started = Date.now();
    expect(() => parseReference(`${'a'.repeat(60)}..example`)).toThrow(/invalid repository name component/);
    expect(() => parseReference(`registry.example.com/${'x'.repeat(200)}${'a'.repeat(64)}..docker.io`)).toThrow(/invalid/);
    // Before the fix the first of these took seconds and the second did not finish.
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('refuses a reference longer than any valid one, quoting only its start', () => {
    const err = (() => {
      try {
        parseReference(`example.com/${'a'.repeat(10_000)}`);
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    expect(err?.message).toMatch(/^invalid image reference "example\.com\/a+…": longer than 512 characters$/);
    expect(err!.message.length).toBeLessThan(200);
  });
});
