// Retry policy for registry traffic: which failures are worth another attempt (connection errors,
// timeouts, 408, 429, 5xx), how long to wait (exponential backoff with jitter, Retry-After when it
// is short), and the attempt loop itself. Deciding what a final failure says is the caller's job:
// this module knows nothing about registries or references.
import { setTimeout as sleepFor } from 'node:timers/promises';
import { errnoCode, TsbuildError } from '../errors.js';
import type { Logger } from '../log.js';

const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 2_000;
/** Longer Retry-After values are not waited for: a CLI that sleeps for minutes looks hung. */
const MAX_RETRY_AFTER_MS = 10_000;

/** Wraps the error an attempt would end with when another attempt may still succeed. */
export class RetryableError extends Error {
  readonly error: Error;
  readonly retryAfterMs?: number;

  constructor(error: Error, retryAfterMs?: number) {
    super(error.message, { cause: error });
    this.name = 'RetryableError';
    this.error = error;
    this.retryAfterMs = retryAfterMs;
  }
}

export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Retry-After in milliseconds when it is given in seconds (or as a date) and short enough to honour. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  let ms: number;
  if (/^\d+$/.test(trimmed)) {
    ms = Number(trimmed) * 1000;
  } else {
    const at = Date.parse(trimmed);
    if (Number.isNaN(at)) return undefined;
    ms = Math.max(0, at - now);
  }
  return ms <= MAX_RETRY_AFTER_MS ? ms : undefined;
}

/** The wait before attempt `attempt + 1`: 100 ms doubling up to 2 s, with jitter so parallel pulls spread out. */
export function backoffDelay(attempt: number, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return retryAfterMs;
  const base = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.max(0, attempt - 1));
  return Math.round(base / 2 + Math.random() * (base / 2));
}

export interface NetworkErrorInfo {
  /** The errno / undici / OpenSSL code, e.g. ECONNREFUSED. */
  code: string;
  /** Another attempt may succeed (reset, refused, timeout) as opposed to a configuration problem (TLS, DNS). */
  retryable: boolean;
  /** Says what went wrong without secrets: the node/undici message or a plainer one. */
  reason: string;
  hint?: string;
  /** The TLS handshake failed, or the peer did not speak TLS: an insecure client should try plain HTTP. */
  tls: boolean;
}

const RETRYABLE_ERRNO = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

const CERT_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The innermost error carrying a code: undici and net sometimes wrap (cause) or aggregate (happy eyeballs). */
function codedError(err: unknown, depth = 0): { code: string; message: string } | undefined {
  if (!err || typeof err !== 'object' || depth > 4) return undefined;
  const code = errnoCode(err);
  // OpenSSL messages are long and multi-line; node puts the readable part into `reason`.
  const reason = (err as { reason?: unknown }).reason;
  const message = typeof reason === 'string' && reason ? reason : err instanceof Error ? err.message.trim() : String(err);
  if (code) return { code, message: message || code };
  if (err instanceof AggregateError && err.errors.length > 0) return codedError(err.errors[0], depth + 1);
  if (err instanceof Error && err.cause) return codedError(err.cause, depth + 1);
  return undefined;
}

/** Classifies transport-level failures; undefined for anything else (HTTP statuses, bugs, stream errors). */
export function classifyNetworkError(err: unknown): NetworkErrorInfo | undefined {
  // Our own errors have codes too (REGISTRY, ...), but never describe a transport failure.
  if (err instanceof TsbuildError) return undefined;
  const coded = codedError(err);
  if (!coded) return undefined;
  const { code, message } = coded;
  if (RETRYABLE_ERRNO.has(code)) return { code, retryable: true, reason: message, tls: false };
  if (code === 'ENOTFOUND') return { code, retryable: false, reason: message, tls: false };
  if (CERT_CODES.has(code)) {
    return {
      code,
      retryable: false,
      reason: `TLS certificate verification failed: ${message}`,
      hint: 'put the registry CA certificate into /etc/containers/certs.d/<host:port>/ca.crt, or mark the registry insecure (--tls-verify=false)',
      tls: true,
    };
  }
  if (code.startsWith('ERR_SSL_') || code === 'ECONNRESET_TLS' || /ssl|tls/i.test(code)) {
    const plain = /wrong version number|packet length too long|http request/i.test(message);
    return {
      code,
      retryable: false,
      reason: plain ? `TLS handshake failed, the server may speak plain HTTP (${message})` : `TLS handshake failed: ${message}`,
      hint: plain ? 'if the registry serves plain HTTP, mark it insecure (--tls-verify=false or insecure = true in registries.conf)' : undefined,
      tls: true,
    };
  }
  return undefined;
}

export interface RetryOptions {
  /** Total attempts, at least 1. */
  attempts: number;
  /** Fixed wait between attempts; default the backoff. */
  delayMs?: number;
  signal?: AbortSignal;
  logger: Logger;
  /** What is being attempted, for debug logs. */
  what: string;
  /** Turns the error of the last attempt into the error thrown (called for non-retryable errors too). */
  finalize(err: unknown): unknown;
}

/** Runs `fn` until it succeeds, fails for good, or the attempts are used up. */
export async function withRetries<T>(options: RetryOptions, fn: (attempt: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      // An abort is the user's decision, never something to retry or reword.
      if (options.signal?.aborted) throw err;
      let retryAfterMs: number | undefined;
      let retryable = false;
      if (err instanceof RetryableError) {
        retryable = true;
        retryAfterMs = err.retryAfterMs;
      } else {
        retryable = classifyNetworkError(err)?.retryable ?? false;
      }
      if (!retryable || attempt >= options.attempts) throw options.finalize(err);
      const delay = retryAfterMs ?? options.delayMs ?? backoffDelay(attempt);
      options.logger.debug({ what: options.what, attempt, delayMs: delay, reason: err instanceof Error ? err.message : String(err) }, 'retrying registry request');
      await sleepFor(delay, undefined, { signal: options.signal });
    }
  }
}
