// The pino logger factory. Logs go to stderr (stdout belongs to command output); credentials and
// tokens are redacted wherever they appear as structured fields.
import { pino, destination, type Logger } from 'pino';

export type { Logger };

import type { LogLevel } from './log-levels.js';

export { LOG_LEVELS, type LogLevel } from './log-levels.js';

export function createLogger(level: LogLevel = 'warn'): Logger {
  return pino(
    {
      level,
      base: undefined,
      redact: {
        paths: ['password', 'token', 'auth', 'authorization', 'headers.authorization', '*.password', '*.token', '*.auth'],
        censor: '[redacted]',
      },
    },
    destination({ fd: 2, sync: true }),
  );
}

/** A logger that drops everything: for library use and tests that do not care. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
