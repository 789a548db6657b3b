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
  | 'IO'
  | 'INTERNAL';

export interface TsbuildErrorOptions {
  hint?: string;
  cause?: unknown;
  /** Exit code a command should end with, when it is not derived from the code (e.g. a RUN's status). */
  exitCode?: number;
}

export class TsbuildError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  readonly exitCode?: number;

  constructor(code: ErrorCode, message: string, options: TsbuildErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TsbuildError';
    this.code = code;
    this.hint = options.hint;
    this.exitCode = options.exitCode;
  }
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
