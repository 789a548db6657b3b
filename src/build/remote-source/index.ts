// Sources ADD reads from elsewhere than the build context: http(s) URLs and git repositories. Each
// is fetched into a private temp dir, which the copy step then reads like a build context.
import { TsbuildError } from '../../errors.js';
import { fetchGit, isGitSource } from './git.js';
import { fetchHttp, isHttpSource } from './http.js';
import type { HttpValidators } from './validators.js';

export interface FetchedSource {
  /** Temp dir holding what was fetched; read as a source root. */
  dir: string;
  /** The source pattern inside `dir` that the copy selects. */
  pattern: string;
  /** Removes the temp dir. */
  release(): Promise<void>;
  /** http: the server's validators for a later conditional request. */
  validators?: HttpValidators;
  /** http: a conditional request was answered 304 (nothing was downloaded; `dir` is gone). */
  notModified?: boolean;
}

export interface RemoteFetchOptions {
  tmpDir: string;
  where: string;
  checksum?: string;
  keepGitDir?: boolean;
  label?: string;
  validators?: HttpValidators;
  signal?: AbortSignal;
}

export type RemoteKind = 'git' | 'http';

/** Whether an ADD source is remote, and which kind; git wins for `https://host/repo.git` as in BuildKit. */
export function remoteKind(src: string): RemoteKind | undefined {
  if (isGitSource(src)) return 'git';
  if (isHttpSource(src)) return 'http';
  return undefined;
}

export function fetchRemote(kind: RemoteKind, src: string, options: RemoteFetchOptions): Promise<FetchedSource> {
  return kind === 'git' ? fetchGit({ ...options, url: src }) : fetchHttp({ ...options, url: src });
}

/** COPY reads local files only; a URL there is a mistake the reference names. */
export function refuseRemoteInCopy(src: string, where: string): void {
  if (remoteKind(src) !== undefined) {
    throw new TsbuildError('INVALID_ARGUMENT', `${where}: COPY cannot read from a URL ("${src}")`, { hint: 'use ADD for URLs and git repositories' });
  }
}
