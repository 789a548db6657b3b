// Output helpers for commands: aligned tables, human sizes and ages, and Go-template-like --format.
export function table(rows: readonly string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd((widths[i] ?? 0) + 3))).join('').trimEnd()).join('\n') + '\n';
}

export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toPrecision(3)} ${units[unit]}`;
}

export function humanAge(iso: string, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (Number.isNaN(seconds)) return 'unknown';
  if (seconds < 60) return `${seconds} seconds ago`;
  const steps: [number, string][] = [[60, 'minute'], [3600, 'hour'], [86400, 'day'], [604800, 'week'], [2629800, 'month'], [31557600, 'year']];
  let label = 'second';
  let size = 1;
  for (const [s, l] of steps) if (seconds >= s) [size, label] = [s, l];
  const n = Math.floor(seconds / size);
  return `${n} ${label}${n === 1 ? '' : 's'} ago`;
}

/**
 * A small subset of Go templates, enough for the usual `--format` uses: `{{.Field.Sub}}`,
 * `{{json .Field}}`, and literal text. Strings print bare, other values as JSON.
 */
export function formatTemplate(template: string, value: unknown): string {
  // `\n` and `\t` are escapes in the literal text only; a value (a heredoc in a history entry) keeps its own.
  const literal = (text: string): string => text.replace(/\\n/g, '\n').replace(/\\t/g, '\t');
  const field = /\{\{\s*(json\s+)?(\.[\w.]*)\s*\}\}/g;
  let out = '';
  let last = 0;
  for (const m of template.matchAll(field)) {
    out += literal(template.slice(last, m.index)) + formatField(value, m[1], m[2] as string);
    last = (m.index ?? 0) + m[0].length;
  }
  return out + literal(template.slice(last));
}

function formatField(value: unknown, json: string | undefined, expr: string): string {
  let current: unknown = value;
  for (const key of expr.split('.').filter(Boolean)) {
    current = current && typeof current === 'object' ? (current as Record<string, unknown>)[key] : undefined;
  }
  if (json) return JSON.stringify(current ?? null);
  if (current === undefined || current === null) return '<no value>';
  if (typeof current === 'string') return current;
  if (Array.isArray(current) && current.every((c) => typeof c === 'string')) return `[${current.join(' ')}]`;
  return typeof current === 'object' ? JSON.stringify(current) : String(current);
}
