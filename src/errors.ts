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
