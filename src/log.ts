// The pino logger factory. Logs go to stderr (stdout belongs to command output); credentials and
// tokens are redacted wherever they appear as structured fields.
//
// pino is loaded on first need, not at start-up: loading it and compiling its redaction paths costs
// ~50 ms of CPU (a third of `tsbuild --version`), and at the default level (warn) most commands
// never write a log line. The logger handed out answers level checks and disabled levels itself
// and loads pino (CommonJS, so synchronously) at the first line that passes the level or the first
// use of anything else; child loggers are just as lazy.
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Bindings, ChildLoggerOptions, Logger } from 'pino';
import type { LogLevel } from './log-levels.js';
import { installRoot } from './util/install-root.js';

export type { Logger };

export { LOG_LEVELS, type LogLevel } from './log-levels.js';

const LEVEL_VALUES: Readonly<Record<string, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

// Field names that hold credentials or build secrets, at the top level and one level down (the
// shapes code logs: `{ credentials }`, `{ headers }`, `{ flags: { secrets } }`). Values in messages
// are kept out at the source (the registry client redacts its errors; URLs are logged without
// userinfo or query); this is the net under structured fields.
const SECRET_FIELDS = ['password', 'token', 'auth', 'authorization', 'access_token', 'refresh_token', 'identitytoken', 'registrytoken', 'credentials', 'creds', 'secret', 'secrets', 'cookie'];
const REDACT = {
  paths: [...SECRET_FIELDS, ...SECRET_FIELDS.map((f) => `*.${f}`), 'headers.Authorization', 'headers["proxy-authorization"]', '*.headers.authorization'],
  censor: '[redacted]',
};

type Pino = typeof import('pino');

function loadPino(): Pino {
  return createRequire(path.join(installRoot(), 'package.json'))('pino') as Pino;
}

export function createLogger(level: LogLevel = 'warn'): Logger {
  return lazyLogger(level, () => {
    const pino = loadPino();
    return pino.pino({ level, base: undefined, redact: REDACT }, pino.destination({ fd: 2, sync: true }));
  });
}

/** A logger that drops everything: for library use and tests that do not care. */
export function silentLogger(): Logger {
  return lazyLogger('silent', () => loadPino().pino({ level: 'silent' }));
}

const noop = (): void => undefined;

/**
 * A Logger that is `make()`'s once anything but a disabled level method, a level check or `child`
 * is used. Setting `level` goes to the real logger (and is then what the checks use).
 */
function lazyLogger(level: LogLevel, make: () => Logger): Logger {
  let real: Logger | undefined;
  const load = (): Logger => (real ??= make());
  const threshold = (): number => LEVEL_VALUES[real ? real.level : level] ?? 0;
  return new Proxy({} as Logger, {
    get(_target, prop) {
      if (typeof prop === 'string' && prop !== 'silent' && prop in LEVEL_VALUES && LEVEL_VALUES[prop]! < threshold()) return noop;
      if (!real) {
        if (prop === 'level') return level;
        if (prop === 'isLevelEnabled') return (l: string) => (LEVEL_VALUES[l] ?? Infinity) >= threshold();
        if (prop === 'child') {
          return (bindings: Bindings, options?: ChildLoggerOptions) => lazyLogger((options?.level as LogLevel | undefined) ?? level, () => load().child(bindings, options));
        }
      }
      const value = Reflect.get(load(), prop) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(real) : value;
    },
    set(_target, prop, value) {
      return Reflect.set(load(), prop, value);
    },
  });
}
