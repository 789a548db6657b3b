// ADD <git repository>: `https://host/repo.git#ref:subdir`, `git://host/repo#ref`, `ssh://...`,
// `git@host:repo.git`. Debian's git fetches the ref shallowly into a private temp dir (a branch, a
// tag, or a commit; a full fetch where the server cannot serve that shallowly), checks it out with
// its submodules, and drops .git unless --keep-git-dir. git runs with argv arrays, no prompts, no
// system or user config, and an ssh that never asks for a password.
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { TsbuildError, isTsbuildError } from '../../errors.js';
import { execFile } from '../../util/exec.js';
import { pathExists, tempName } from '../../util/fs.js';
import type { FetchedSource } from './index.js';

export interface GitFetchOptions {
  url: string;
  /** ADD --checksum: the commit the ref must resolve to (full or abbreviated hex). */
  checksum?: string;
  keepGitDir?: boolean;
  tmpDir: string;
  where: string;
  signal?: AbortSignal;
}

export interface GitSource {
  remote: string;
  ref?: string;
  subdir?: string;
}

export function isGitSource(src: string): boolean {
  if (/^(git:\/\/|ssh:\/\/|git@[^:/]+:)/i.test(src)) return true;
  if (!/^https?:\/\//i.test(src)) return false;
  const urlPath = src.replace(/[#?].*$/, '');
  return /\.git\/?$/.test(urlPath);
}

/** Splits the `#ref:subdir` fragment off a git source. */
export function parseGitSource(src: string): GitSource {
  const hash = src.indexOf('#');
  if (hash < 0) return { remote: src };
  const remote = src.slice(0, hash);
  const fragment = src.slice(hash + 1);
  const colon = fragment.indexOf(':');
  const ref = colon < 0 ? fragment : fragment.slice(0, colon);
  const subdir = colon < 0 ? '' : fragment.slice(colon + 1);
  return { remote, ...(ref !== '' && { ref }), ...(subdir !== '' && { subdir }) };
}

export async function fetchGit(options: GitFetchOptions): Promise<FetchedSource> {
  const { where } = options;
  const source = parseGitSource(options.url);
  if (options.checksum !== undefined && !/^[0-9a-f]{7,64}$/.test(options.checksum)) {
    throw new TsbuildError('INVALID_ARGUMENT', `${where}: invalid --checksum "${options.checksum}" for a git source: expected a commit hash`);
  }
  const dir = tempName(options.tmpDir, 'add-git');
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
      const candidates = ref === 'HEAD' ? ['origin/HEAD', 'origin/main', 'origin/master'] : [`origin/${ref}`, `refs/tags/${ref}`, ref];
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
    // Submodules come along, as BuildKit checks them out (git refuses file:// ones from a remote's .gitmodules).
    const submodules = await pathExists(path.join(repo, '.gitmodules'));
    if (submodules) await git(['submodule', 'update', '--init', '--recursive']);
    const commit = await git(['rev-parse', 'HEAD']);
    if (options.checksum !== undefined && !commit.startsWith(options.checksum)) {
      throw new TsbuildError('DIGEST_MISMATCH', `${where}: ADD ${options.url}: checksum mismatch: expected commit ${options.checksum}, got ${commit}`);
    }
    if (!options.keepGitDir) {
      await rm(path.join(repo, '.git'), { recursive: true, force: true });
      // A submodule's .git is a file pointing into the .git just removed.
      if (submodules) await removeGitLinks(repo);
    }
    return { dir: repo, pattern: source.subdir ?? '.', release };
  } catch (err) {
    await release();
    if (isTsbuildError(err) && err.code === 'RUNTIME') {
      const detail = err.message.replace(/^git .*?exited with status \d+:? ?/, '') || err.message;
      throw new TsbuildError('IO', `${where}: ADD ${options.url}: git failed: ${detail}`, { cause: err });
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
