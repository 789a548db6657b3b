// Untrusted names and system errors as they appear in extraction messages: one line, bounded length.

/** Names longer than this are shortened in messages: a 5000-byte name helps nobody read an error. */
const SHOWN_NAME = 160;

/**
 * An untrusted name as it appears in a message: quoted, with control characters escaped (a newline
 * in a name must not break an error into lines that look like our own) and long names shortened.
 */
export function showName(name: string, quoted = true): string {
  const long = name.length > SHOWN_NAME;
  const escaped = (long ? name.slice(0, SHOWN_NAME) : name).replace(/[\x00-\x1f\x7f]/g, (c) =>
    c === '\0' ? '\\0' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : c === '\t' ? '\\t' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
  const text = long ? `${escaped}…` : escaped;
  return quoted ? `"${text}"${long ? ` (${Buffer.byteLength(name)} bytes)` : ''}` : text;
}

/** A system error without the host path Node appends (the entry is named already, and the path may be huge). */
export function systemMessage(err: unknown): string {
  const message = (err as Error).message;
  return /^E[A-Z]+: [^,]*/.exec(message)?.[0] ?? message;
}
