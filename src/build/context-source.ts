// The build context when bud names something other than a local directory, as docker build takes
// it: a git repository URL (`https://host/repo.git#ref:subdir`, `git://...`), an http(s) URL of a tar
// archive (plain, gzip, bzip2 or xz: recognised by content, not name) or of a plain Containerfile,
// or `-` (standard input: a tar archive, or else the Containerfile itself). Fetches reuse ADD's
// remote sources; archives unpack through the archive module, so no entry lands outside the
// context. Everything lives in temp dirs under the store's tmp, removed when the context is disposed.
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TsbuildError } from '../errors.js';
import { resolveInRoot } from '../util/resolve-in-root.js';
import { tempName } from '../util/fs.js';
import { detectArchive, extractArchive } from './context/add-archive.js';
import { fetchGit, isGitSource } from './remote-source/git.js';
import { fetchHttp, isHttpSource, redactUrl } from './remote-source/http.js';

export interface OpenedContext extends AsyncDisposable {
  /** The context directory (absolute). */
  dir: string;
  /** The -f Containerfile, resolved inside the context; undefined: look for the default names. */
  file?: string;
  /** Set when the source itself was the Containerfile (the context is then empty). */
  containerfile?: { text: string; file: string };
}

export interface OpenContextOptions {
  /** -f as given: for these contexts a path inside the context. */
  file?: string;
  /** Where temp dirs go; asked only for a context that needs one. */
  tmpDir: () => Promise<string>;
  stdin: Readable;
  signal?: AbortSignal;
}

/** Whether bud's context argument is something to fetch or read, rather than a local directory. */
export function isRemoteContext(arg: string): boolean {
  return arg === '-' || isGitSource(arg) || isHttpSource(arg);
}

/** Opens a remote or stdin context; undefined for a local directory (read in place). */
export async function openBuildContext(arg: string, options: OpenContextOptions): Promise<OpenedContext | undefined> {
  if (!isRemoteContext(arg)) return undefined;
  const what = 'build context';
  const shown = arg === '-' ? 'standard input' : redactUrl(arg);
  if (arg === '-' && options.file === '-') throw new TsbuildError('INVALID_ARGUMENT', 'the build context and the Containerfile (-f -) cannot both come from standard input');
  const tmpDir = await options.tmpDir();
  const temps: Array<() => Promise<void>> = [];
  const release = async (): Promise<void> => {
    await Promise.all(temps.map((r) => r().catch(() => undefined)));
  };
  try {
    let dir: string;
    let containerfile: OpenedContext['containerfile'];
    if (isGitSource(arg)) {
      const fetched = await fetchGit({ url: arg, tmpDir, where: what, label: shown, signal: options.signal });
      temps.push(fetched.release);
      dir = await resolveInRoot(fetched.dir, fetched.pattern, { onEscape: 'error', what: 'the repository' });
      if (!(await stat(dir).then((s) => s.isDirectory(), () => false))) {
        throw new TsbuildError('NOT_FOUND', `${what} ${shown}: ${fetched.pattern} is not a directory of the repository`);
      }
    } else {
      // A download or standard input: one file, which is either a tar to unpack or the Containerfile.
      let file: string;
      if (arg === '-') {
        const holder = tempName(tmpDir, 'stdin-context');
        await mkdir(holder, { mode: 0o700 });
        temps.push(() => rm(holder, { recursive: true, force: true }));
        file = path.join(holder, 'stdin');
        await pipeline(options.stdin, createWriteStream(file, { mode: 0o600 }), { signal: options.signal });
      } else {
        const fetched = await fetchHttp({ url: arg, tmpDir, where: what, label: shown, signal: options.signal });
        temps.push(fetched.release);
        file = path.join(fetched.dir, fetched.pattern);
      }
      dir = tempName(tmpDir, 'context');
      await mkdir(dir, { mode: 0o755 });
      temps.push(() => rm(dir, { recursive: true, force: true }));
      const format = await detectArchive(file);
      if (format !== undefined) {
        await extractArchive(file, format, dir, { what: `${what} ${shown}` });
      } else {
        if (options.file !== undefined) {
          throw new TsbuildError('INVALID_ARGUMENT', `${what} ${shown} is not a tar archive, so it is the Containerfile: -f cannot name another`);
        }
        containerfile = { text: await readFile(file, 'utf8'), file: arg === '-' ? '<stdin>' : shown };
      }
      await rm(file, { force: true });
    }
    const file = options.file === undefined || options.file === '-' ? options.file : await resolveInRoot(dir, options.file, { onEscape: 'error', what: 'the build context' });
    return { dir, file, containerfile, [Symbol.asyncDispose]: release };
  } catch (err) {
    await release();
    throw err;
  }
}
