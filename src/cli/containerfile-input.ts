// Where bud and lint get their input: the context directory must exist, and the Containerfile is
// the one -f names (- for stdin) or Containerfile/Dockerfile in the context.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { TsbuildError, errnoCode } from '../errors.js';

/** A missing context is a typo worth reporting before the build, not when the first COPY needs it. */
export async function checkContextDir(context: string): Promise<void> {
  let isDir: boolean;
  try {
    isDir = (await stat(context)).isDirectory();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') {
      throw new TsbuildError('NOT_FOUND', `build context ${context} does not exist`);
    }
    throw err;
  }
  if (!isDir) throw new TsbuildError('INVALID_ARGUMENT', `build context ${context} is not a directory`);
}

export async function readContainerfile(contextArg: string, file: string | undefined): Promise<{ text: string; file: string }> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return { text: Buffer.concat(chunks).toString('utf8'), file: '<stdin>' };
  }
  // Messages name the file as the user would: as given with -f, or inside the context they named.
  const candidates = file ? [file] : ['Containerfile', 'Dockerfile'].map((f) => path.join(contextArg, f));
  for (const candidate of candidates) {
    try {
      return { text: await readFile(candidate, 'utf8'), file: candidate };
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') continue;
      if (errnoCode(err) === 'EISDIR') throw new TsbuildError('INVALID_ARGUMENT', `${candidate} is a directory, not a Containerfile`);
      throw err;
    }
  }
  throw new TsbuildError(
    'NOT_FOUND',
    file ? `Containerfile "${file}" not found` : `no Containerfile or Dockerfile found in ${contextArg}`,
    { hint: 'name one with -f' },
  );
}
