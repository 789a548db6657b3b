// Commands that take several containers (stop, rm, kill, ...) act on each in turn, as podman: a
// failure is reported (one "Error:" line) and the others still run; the command then exits 125.
import { TsbuildError } from '../errors.js';
import type { ContainerRecord } from '../container/types.js';
import type { Stores } from '../store/root.js';
import { reportError } from './exit.js';

export async function eachContainer(
  stores: Stores,
  refs: readonly string[],
  fn: (record: ContainerRecord, ref: string) => Promise<string | undefined>,
  showStack = false,
): Promise<void> {
  const { requireContainer } = await import('../container/records.js');
  let failed = 0;
  for (const ref of refs) {
    try {
      const out = await fn(await requireContainer(stores, ref), ref);
      if (out !== undefined) process.stdout.write(`${out}\n`);
    } catch (err) {
      // With one container the error is the command's own (and its exit code, e.g. 127).
      if (refs.length === 1) throw err;
      failed = reportError(err, showStack, 125);
    }
  }
  if (failed) process.exitCode = failed;
}

export function notSupported(what: string): TsbuildError {
  return new TsbuildError('INVALID_ARGUMENT', `${what} is not supported`, { exitCode: 125 });
}
