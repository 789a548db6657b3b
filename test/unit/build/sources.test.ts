import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findNamedContext, namedContextKey, parseBuildContexts } from '../../../src/build/named-context.js';
import { isGitSource, parseGitSource } from '../../../src/build/remote-source/git.js';
import { parseChecksum, urlFileName } from '../../../src/build/remote-source/http.js';
import { remoteKind } from '../../../src/build/remote-source/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-named-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('named build contexts', () => {
  it('match image references by their familiar name, without :latest', () => {
    expect(namedContextKey('docker.io/library/alpine:latest')).toBe('alpine');
    expect(namedContextKey('alpine')).toBe('alpine');
    expect(namedContextKey('Alpine:3.19')).toBe('alpine:3.19');
    expect(namedContextKey('docker.io/team/app')).toBe('team/app');
    expect(namedContextKey('localhost/base:latest')).toBe('localhost/base');
    expect(namedContextKey('quay.io/library/x')).toBe('quay.io/library/x');
  });

  it('parses directories, docker-image:// and oci-layout:// values', async () => {
    const contexts = await parseBuildContexts(['src=.', 'base=docker-image://localhost/base:1', `lay=oci-layout://${dir}:v2`, `dig=oci-layout://${dir}@sha256:${'a'.repeat(64)}`], dir);
    expect(contexts.get('src')).toEqual({ kind: 'dir', dir });
    expect(contexts.get('base')).toEqual({ kind: 'image', ref: 'localhost/base:1' });
    expect(contexts.get('lay')).toEqual({ kind: 'oci-layout', dir, tag: 'v2' });
    expect(contexts.get('dig')).toEqual({ kind: 'oci-layout', dir, digest: `sha256:${'a'.repeat(64)}` });
    const git = await parseBuildContexts(['a=https://h/r.git#main:sub', 'b=git@h:o/r.git'], dir);
    expect([...git.values()]).toEqual([
      { kind: 'git', url: 'https://h/r.git#main:sub' },
      { kind: 'git', url: 'git@h:o/r.git' },
    ]);
    expect(findNamedContext(contexts, 'docker.io/library/src:latest')).toBe('src');
    expect(findNamedContext(contexts, 'other')).toBeUndefined();
  });

  it('rejects values without a name, missing directories and unknown schemes', async () => {
    await expect(parseBuildContexts(['=x'], dir)).rejects.toThrow(/expected name=VALUE/);
    await expect(parseBuildContexts(['x='], dir)).rejects.toThrow(/expected name=VALUE/);
    await expect(parseBuildContexts(['x=missing'], dir)).rejects.toThrow(/missing is not a directory/);
    await expect(parseBuildContexts(['x=s3://bucket'], dir)).rejects.toThrow(/s3:\/\/ scheme is not supported/);
  });
});

describe('remote ADD sources', () => {
  it('tells git repositories from plain URLs and local paths', () => {
    expect(remoteKind('https://github.com/moby/buildkit.git#v0.10.1:docs')).toBe('git');
    expect(remoteKind('git@github.com:moby/buildkit.git')).toBe('git');
    expect(remoteKind('git://host/repo')).toBe('git');
    expect(remoteKind('ssh://git@host/repo.git')).toBe('git');
    expect(remoteKind('https://example.com/file.tar.gz')).toBe('http');
    expect(remoteKind('http://example.com/x.git.txt')).toBe('http');
    expect(remoteKind('local/dir.git')).toBeUndefined();
    expect(isGitSource('https://example.com/repo.git?ref=main')).toBe(true);
  });

  it('splits the #ref:subdir fragment of a git source', () => {
    expect(parseGitSource('https://h/r.git#v1:docs/api')).toEqual({ remote: 'https://h/r.git', ref: 'v1', subdir: 'docs/api' });
    expect(parseGitSource('https://h/r.git#main')).toEqual({ remote: 'https://h/r.git', ref: 'main' });
    expect(parseGitSource('https://h/r.git#:sub')).toEqual({ remote: 'https://h/r.git', subdir: 'sub' });
    expect(parseGitSource('git@h:o/r.git')).toEqual({ remote: 'git@h:o/r.git' });
  });

  it('reads the query form of a git source, as BuildKit does', () => {
    expect(parseGitSource('https://h/r.git?tag=v1&subdir=docs')).toEqual({ remote: 'https://h/r.git', ref: 'refs/tags/v1', subdir: 'docs' });
    expect(parseGitSource('https://h/r.git?branch=dev&keep-git-dir&submodules=false')).toEqual({
      remote: 'https://h/r.git',
      ref: 'refs/heads/dev',
      keepGitDir: true,
      submodules: false,
    });
    expect(parseGitSource(`git@h:o/r.git?commit=${'a'.repeat(40)}`)).toEqual({ remote: 'git@h:o/r.git', ref: 'a'.repeat(40), checksum: 'a'.repeat(40) });
    expect(() => parseGitSource('https://h/r.git?tag=a&branch=b', 'C:2')).toThrow('C:2: git source "https://h/r.git?tag=a&branch=b": branch conflicts with tag');
    expect(() => parseGitSource('https://h/r.git?ref=a#b', 'C:2')).toThrow(/ref conflicts/);
    expect(() => parseGitSource('https://h/r.git?colour=red', 'C:2')).toThrow(/unexpected query "colour"/);
    expect(() => parseGitSource('https://h/r.git?ref=', 'C:2')).toThrow(/query "ref" has no value/);
  });

  it('names a downloaded file after the URL path, __unnamed__ when it has none', () => {
    expect(urlFileName('https://h/a/b/tool-1.2.tar.gz?x=1')).toBe('tool-1.2.tar.gz');
    expect(urlFileName('https://h/dir/with%20space')).toBe('with space');
    expect(urlFileName('https://h/')).toBe('__unnamed__');
    expect(urlFileName('https://h')).toBe('__unnamed__');
    expect(urlFileName('https://h/a/%2e%2e')).toBe('__unnamed__');
    expect(urlFileName('https://h/a/%2e%2e%2f%2e%2e%2fetc%2fpasswd')).toBe('passwd');
    expect(urlFileName('https://h/bad%zz')).toBe('bad%zz');
  });

  it('accepts sha256, sha384 and sha512 checksums of the right length only', () => {
    expect(parseChecksum(`sha256:${'a'.repeat(64)}`, 'f:1')).toEqual({ algorithm: 'sha256', hex: 'a'.repeat(64) });
    expect(parseChecksum(`sha512:${'b'.repeat(128)}`, 'f:1').algorithm).toBe('sha512');
    expect(() => parseChecksum('sha256:abc', 'f:1')).toThrow(/^f:1: invalid --checksum/);
    expect(() => parseChecksum(`md5:${'a'.repeat(32)}`, 'f:1')).toThrow(/invalid --checksum/);
  });
});
