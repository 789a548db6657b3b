// The one top-level error handler: `Error: <message>` (and a hint) on stderr, no stack trace unless
// debugging, and an exit code derived from the error.
import { TsbuildError, noSpaceError } from '../errors.js';

/**
 * The offending source line under the message, with a caret at the column:
 *    3 | FORM busybox
 *      | ^
 * Tabs before the column are kept so the caret lines up in a terminal.
 */
export function sourceExcerpt(line: number, column: number, text: string): string {
  const number = String(line).padStart(4);
  const pad = ' '.repeat(number.length);
  const lead = text.slice(0, Math.max(column - 1, 0)).replace(/[^\t]/g, ' ');
  return `${number} | ${text}\n${pad} | ${lead}^\n`;
}

export function reportError(error: unknown, showStack: boolean, defaultExit = 1): number {
  // A full disk reaches here from many places (a write deep in a commit, a pull's temp file): it
  // is said plainly, with what to do about it, whatever raised it.
  const err = noSpaceError(error);
  if (err instanceof TsbuildError) {
    process.stderr.write(`Error: ${err.message}\n`);
    if (err.source?.excerpt !== undefined) process.stderr.write(sourceExcerpt(err.source.line, err.source.column, err.source.excerpt));
    if (err.hint) process.stderr.write(`Hint: ${err.hint}\n`);
    if (showStack && err.stack) process.stderr.write(`${err.stack}\n`);
    return err.exitCode ?? defaultExit;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`Error: ${message}\n`);
  if (showStack && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  return defaultExit;
}
