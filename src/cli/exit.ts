// The one top-level error handler: `Error: <message>` (and a hint) on stderr, no stack trace unless
// debugging, and an exit code derived from the error.
import { TsbuildError } from '../errors.js';

export function reportError(err: unknown, showStack: boolean, defaultExit = 1): number {
  if (err instanceof TsbuildError) {
    process.stderr.write(`Error: ${err.message}\n`);
    if (err.hint) process.stderr.write(`Hint: ${err.hint}\n`);
    if (showStack && err.stack) process.stderr.write(`${err.stack}\n`);
    return err.exitCode ?? defaultExit;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`Error: ${message}\n`);
  if (showStack && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  return defaultExit;
}
