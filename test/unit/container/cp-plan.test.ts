import { describe, expect, it } from 'vitest';
import { parseCpLocation, planCopy, type DestShape, type SourceShape } from '../../../src/container/cp.js';

describe('parseCpLocation', () => {
  it('splits CONTAINER:PATH, with a relative container path taken from /', () => {
    expect(parseCpLocation('web:/etc/hosts')).toEqual({ kind: 'container', container: 'web', path: '/etc/hosts' });
    expect(parseCpLocation('web:tmp/x')).toEqual({ kind: 'container', container: 'web', path: '/tmp/x' });
    expect(parseCpLocation('web:')).toEqual({ kind: 'container', container: 'web', path: '/' });
  });
  it('takes absolute paths, ./ paths and paths with a / before the colon as host paths', () => {
    expect(parseCpLocation('/tmp/a:b')).toEqual({ kind: 'host', path: '/tmp/a:b' });
    expect(parseCpLocation('./a:b')).toEqual({ kind: 'host', path: './a:b' });
    expect(parseCpLocation('dir/a:b')).toEqual({ kind: 'host', path: 'dir/a:b' });
    expect(parseCpLocation('file')).toEqual({ kind: 'host', path: 'file' });
  });
  it('reads - as a tar stream', () => {
    expect(parseCpLocation('-')).toEqual({ kind: 'stream' });
  });
});

const file: SourceShape = { isDir: false, contentsOnly: false, name: 'f.txt' };
const dir: SourceShape = { isDir: true, contentsOnly: false, name: 'src' };
const contents: SourceShape = { isDir: true, contentsOnly: true, name: 'src' };
const dest = (fields: Partial<DestShape>): DestShape => ({ host: '/r/dest', exists: false, isDir: false, trailingSlash: false, given: 'dest', ...fields });

describe('planCopy (docker cp rules)', () => {
  it('puts a file or directory into an existing directory under its own name', () => {
    expect(planCopy(file, dest({ exists: true, isDir: true }))).toEqual({ extractDir: '/r/dest', topName: 'f.txt' });
    expect(planCopy(dir, dest({ exists: true, isDir: true }))).toEqual({ extractDir: '/r/dest', topName: 'src' });
  });
  it('copies the contents of SRC/. into an existing directory', () => {
    expect(planCopy(contents, dest({ exists: true, isDir: true }))).toEqual({ extractDir: '/r/dest', topName: undefined });
  });
  it('creates DEST from a directory (also for SRC/.) or a file when it does not exist', () => {
    expect(planCopy(dir, dest({}))).toEqual({ extractDir: '/r', topName: 'dest' });
    expect(planCopy(contents, dest({}))).toEqual({ extractDir: '/r', topName: 'dest' });
    expect(planCopy(file, dest({}))).toEqual({ extractDir: '/r', topName: 'dest' });
    expect(planCopy(dir, dest({ trailingSlash: true }))).toEqual({ extractDir: '/r', topName: 'dest' });
  });
  it('overwrites an existing file with a file', () => {
    expect(planCopy(file, dest({ exists: true }))).toEqual({ extractDir: '/r', topName: 'dest' });
  });
  it('refuses a directory onto a file and a file into a missing directory (trailing slash)', () => {
    expect(() => planCopy(dir, dest({ exists: true }))).toThrow(/cannot copy a directory to "dest": it is a file/);
    expect(() => planCopy(file, dest({ trailingSlash: true, given: 'dest/' }))).toThrow(/destination directory "dest\/" does not exist/);
  });
});
