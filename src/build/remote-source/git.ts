// ADD <git repository>: `https://host/repo.git#ref:subdir` (or BuildKit's query form,
// `?ref=...&subdir=...`), `git://host/repo#ref`, `ssh://...`, `git@host:repo.git`. Debian's git
// fetches the ref shallowly into a private temp dir (a branch, a tag, or a commit; a full fetch where
// the server cannot serve that shallowly), checks it out with its submodules, and drops .git unless
// --keep-git-dir. git runs with argv arrays, no prompts, no system or user config, and an ssh that
// never asks for a password.
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { TsbuildError, isTsbuildError } from '../../errors.js';
import { execFile } from '../../util/exec.js';
import { pathExists, tempName } from '../../util/fs.js';
import { redactUrl } from './http.js';
import type { FetchedSource } from './index.js';

export interface GitFetchOptions {
  url: string;
  /** ADD --checksum: the commit the ref must resolve to (full or abbreviated hex). */
  checksum?: string;
  keepGitDir?: boolean;
  tmpDir: string;
  where: string;
  /** Names the source in messages after `where` (default `ADD <url>`). */
  label?: string;
  signal?: AbortSignal;
}

export interface GitSource {
  remote: string;
  ref?: string;
  subdir?: string;
  /** The commit the ref must resolve to (`?checksum=` or `?commit=`). */
  checksum?: string;
  keepGitDir?: boolean;
  submodules?: boolean;
}

export function isGitSource(src: string): boolean {
  if (/^(git:\/\/|ssh:\/\/|git@[^:/]+:)/i.test(src)) return true;
  if (!/^https?:\/\//i.test(src)) return false;
  return /\.git$/.test(src.replace(/[#?].*$/, ''));
}

/**
 * Splits a git source into the remote and its options, in either of BuildKit's forms: the fragment
 * `#ref:subdir`, or the query `?ref=|tag=|branch=&subdir=&checksum=|commit=&keep-git-dir&submodules=false`.
 */
export function parseGitSource(src: string, where = src): GitSource {
  const invalid = (why: string): never => {
    throw new TsbuildError('INVALID_ARGUMENT', `${where}: git source "${redactUrl(src)}": ${why}`);
  };
  const hash = src.indexOf('#');
  const fragment = hash < 0 ? undefined : src.slice(hash + 1);
  let remote = hash < 0 ? src : src.slice(0, hash);
  const out: GitSource = { remote };
  if (fragment !== undefined) {
    const colon = fragment.indexOf(':');
    const ref = colon < 0 ? fragment : fragment.slice(0, colon);
    const subdir = colon < 0 ? '' : fragment.slice(colon + 1);
    if (ref !== '') out.ref = ref;
    if (subdir !== '') out.subdir = subdir;
  }
  const question = remote.indexOf('?');
  if (question >= 0) {
    const query = new URLSearchParams(remote.slice(question + 1));
    remote = remote.slice(0, question);
    out.remote = remote;
    let tag: string | undefined;
    let branch: string | undefined;
    const setOnce = (field: 'ref' | 'subdir', value: string): void => {
      if (out[field] !== undefined && out[field] !== value) invalid(`${field} conflicts: "${out[field]}" vs "${value}"`);
      out[field] = value;
    };
    const bool = (key: string, value: string): boolean => {
      if (value === '' || value === 'true' || value === '1') return true;
      if (value === 'false' || value === '0') return false;
      return invalid(`invalid ${key} value "${value}"`);
    };
    for (const key of new Set(query.keys())) {
      const values = query.getAll(key);
      if (values.length > 1) invalid(`query "${key}" has multiple values`);
      const value = values[0]!;
      if (value === '' && key !== 'keep-git-dir' && key !== 'submodules') invalid(`query "${key}" has no value`);
      if (key === 'ref') setOnce('ref', value);
      else if (key === 'tag') tag = value.startsWith('refs/tags/') ? value : `refs/tags/${value}`;
      else if (key === 'branch') branch = value.startsWith('refs/heads/') ? value : `refs/heads/${value}`;
      else if (key === 'subdir') setOnce('subdir', value);
      else if (key === 'checksum' || key === 'commit') out.checksum = value;
      else if (key === 'keep-git-dir') out.keepGitDir = bool(key, value);
      else if (key === 'submodules') out.submodules = bool(key, value);
      else invalid(`unexpected query "${key}"`);
    }
    if (tag !== undefined && branch !== undefined) invalid('branch conflicts with tag');
    if (tag !== undefined) setOnce('ref', tag);
    if (branch !== undefined) setOnce('ref', branch);
    if (out.checksum !== undefined && out.ref === undefined) out.ref = out.checksum;
  }
  return out;
}

export async function fetchGit(options: GitFetchOptions): Promise<FetchedSource> {
  const { where } = options;
  const shown = redactUrl(options.url);
  const label = options.label ?? `ADD ${shown}`;
  const source = parseGitSource(options.url, where);
  const checksums = [options.checksum, source.checksum].filter((c): c is string => c !== undefined);
  for (const checksum of checksums) {
    if (!/^[0-9a-f]{7,64}$/.test(checksum)) throw new TsbuildError('INVALID_ARGUMENT', `${where}: invalid checksum "${checksum}" for a git source: expected a commit hash`);
  }
  const keepGitDir = source.keepGitDir ?? options.keepGitDir ?? false;
  const dir = tempName(options.tmpDir, 'gitclone');
  const repo = path.join(dir, 'repo');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const release = (): Promise<void> => rm(dir, { recursive: true, force: true });
  const env = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: dir,
    LC_ALL: 'C',
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_SSH_COMMAND: 'ssh -o BatchMode=yes',
    // Only the network transports: a repository's .gitmodules must not reach file:// or ext::.
    GIT_PROTOCOL_FROM_USER: '0',
    GIT_ALLOW_PROTOCOL: 'http:https:git:ssh',
  };
  const git = (args: string[]): Promise<string> =>
    execFile(['git', '-C', repo, '-c', 'advice.detachedHead=false', ...args], { env, signal: options.signal }).then((r) => r.stdout.trim());
  try {
    await mkdir(repo);
    await git(['init', '-q']);
    await git(['remote', 'add', 'origin', source.remote]);
    const ref = source.ref ?? 'HEAD';
    try {
      await git(['fetch', '-q', '--depth=1', '--no-tags', 'origin', ref]);
      await git(['checkout', '-q', 'FETCH_HEAD']);
    } catch (shallowErr) {
      if (!isTsbuildError(shallowErr)) throw shallowErr;
      // The dumb HTTP protocol cannot fetch shallowly, and servers may refuse a bare commit as a
      // want: fetch every branch and tag, then check the ref out from there.
      await git(['fetch', '-q', 'origin', '+refs/heads/*:refs/remotes/origin/*', '+refs/tags/*:refs/tags/*']).catch(() => {
        throw shallowErr;
      });
      const candidates = ref === 'HEAD' ? ['origin/HEAD', 'origin/main', 'origin/master'] : [`origin/${ref.replace(/^refs\/heads\//, '')}`, `refs/tags/${ref}`, ref];
      await git(['remote', 'set-head', 'origin', '--auto']).catch(() => undefined);
      let checkedOut = false;
      for (const candidate of candidates) {
        if (await git(['checkout', '-q', `${candidate}^{commit}`]).then(() => true, () => false)) {
          checkedOut = true;
          break;
        }
      }
      if (!checkedOut) throw shallowErr;
    }
    // Submodules come along, as BuildKit checks them out.
    const submodules = source.submodules !== false && (await pathExists(path.join(repo, '.gitmodules')));
    if (submodules) await git(['submodule', 'update', '--init', '--recursive']);
    const commit = await git(['rev-parse', 'HEAD']);
    for (const checksum of checksums) {
      if (!commit.startsWith(checksum)) throw new TsbuildError('DIGEST_MISMATCH', `${where}: ${label}: checksum mismatch: expected commit ${checksum}, got ${commit}`);
    }
    if (!keepGitDir) {
      await rm(path.join(repo, '.git'), { recursive: true, force: true });
      // A submodule's .git is a file pointing into the .git just removed.
      if (submodules) await removeGitLinks(repo);
    }
    return { dir: repo, pattern: source.subdir ?? '.', release };
  } catch (err) {
    await release();
    if (isTsbuildError(err) && err.code === 'RUNTIME') {
      const detail = (err.message.replace(/^git .*?exited with status \d+:? ?/, '') || err.message).replace(/(\/\/[^/:@\s]*):[^@/\s]*@/g, '$1:***@');
      throw new TsbuildError('IO', `${where}: ${label}: git failed: ${detail}`);
    }
    throw err;
  }
}

async function removeGitLinks(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const abs = path.join(dir, entry.name);
    if (entry.name === '.git' && entry.isFile()) await rm(abs);
    else if (entry.isDirectory()) await removeGitLinks(abs);
  }
}
