// The one error type of tsbuild. Every failure a user can cause or meet carries a code (mapped to an
// exit code by the CLI), a message that says what and where, an optional hint, and the cause.

export type ErrorCode =
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'INVALID_ARGUMENT'
  | 'PARSE'
  | 'PATH_ESCAPE'
  | 'DIGEST_MISMATCH'
  | 'UNAUTHORIZED'
  | 'REGISTRY'
  | 'RUNTIME'
  | 'STEP_FAILED'
  | 'LOCKED'
  /** A network or volume still used by a container. */
  | 'IN_USE'
  | 'IO'
  /** The filesystem being written is full (ENOSPC) or the quota is used up (EDQUOT). */
  | 'NO_SPACE'
  | 'INTERNAL';

export interface TsbuildErrorOptions {
  hint?: string;
  cause?: unknown;
  /** Exit code a command should end with, when it is not derived from the code (e.g. a RUN's status). */
  exitCode?: number;
  /** Where in a source file (a Containerfile) the problem is; the CLI shows that line with a caret. */
  source?: SourcePosition;
}

export interface SourcePosition {
  file: string;
  /** 1-based */
  line: number;
  /** 1-based */
  column: number;
  /** The text of that source line, when known. */
  excerpt?: string;
}

export class TsbuildError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  readonly exitCode?: number;
  source?: SourcePosition;

  constructor(code: ErrorCode, message: string, options: TsbuildErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TsbuildError';
    this.code = code;
    this.hint = options.hint;
    this.exitCode = options.exitCode;
    this.source = options.source;
  }
}

/**
 * Fills in the source line of an error that points into `file` but was raised without the text
 * (expansion and planning errors only know the position). Returns the error for `throw`.
 */
export function withSourceExcerpt(err: unknown, file: string, lines: readonly string[]): unknown {
  if (err instanceof TsbuildError && err.source?.file === file && err.source.excerpt === undefined) {
    const line = lines[err.source.line - 1];
    if (line !== undefined) err.source = { ...err.source, excerpt: line };
  }
  return err;
}

export function isTsbuildError(err: unknown, code?: ErrorCode): err is TsbuildError {
  return err instanceof TsbuildError && (code === undefined || err.code === code);
}

/** The errno code of a Node system error (ENOENT, EEXIST, ...), or undefined. */
export function errnoCode(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    return (err as { code: string }).code;
  }
  return undefined;
}

const NO_SPACE_CODES = new Set(['ENOSPC', 'EDQUOT']);
const NO_SPACE_HINT = 'free space on the filesystem that holds the tsbuild root (tsbuild rmi, tsbuild system prune) or use a --root with more room';

/** The first ENOSPC/EDQUOT system error in err's cause chain. */
function noSpaceCause(err: unknown): (Error & { path?: string; dest?: string }) | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const code = errnoCode(e);
    if (code !== undefined && NO_SPACE_CODES.has(code)) return e as Error & { path?: string; dest?: string };
  }
  return undefined;
}

/**
 * A full disk as one clear NO_SPACE error: "<where>: <step>: no space left on device (writing <path>)",
 * with a hint, instead of Node's "ENOSPC: no space left on device, write" that says neither what
 * nor where. A TsbuildError that already says what failed keeps its message. Other errors are
 * returned unchanged, so this can wrap any catch.
 */
export function noSpaceError(err: unknown, where?: string, step?: string): unknown {
  const cause = noSpaceCause(err);
  if (isTsbuildError(err, 'NO_SPACE')) return err;
  // Errors that crossed a worker boundary keep only their message ("ENOSPC: no space left on device, ...").
  if (err instanceof TsbuildError && (cause !== undefined || /\b(ENOSPC|EDQUOT)\b/.test(err.message))) {
    const message = /no space left on device|disk quota exceeded/i.test(err.message) ? err.message : `${err.message}: no space left on device`;
    const placed = where === undefined || message.startsWith(where) ? message : `${where}: ${message}`;
    return new TsbuildError('NO_SPACE', placed, { hint: err.hint ?? NO_SPACE_HINT, cause: err, source: err.source });
  }
  if (cause === undefined) return err;
  const target = cause.dest ?? cause.path;
  const what = errnoCode(cause) === 'EDQUOT' ? 'disk quota exceeded' : 'no space left on device';
  const prefix = [where, step].filter((p) => p !== undefined).map((p) => `${p}: `).join('');
  const message = `${prefix}${what}${target === undefined ? '' : ` (writing ${target})`}`;
  return new TsbuildError('NO_SPACE', message, { hint: NO_SPACE_HINT, cause: err });
}
