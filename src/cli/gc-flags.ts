// Flags and output shared by the prune commands (image, builder, system): --filter for images,
// --keep-storage sizes, and the "Total reclaimed space" line.
import { TsbuildError } from '../errors.js';
import { parseByteSize } from '../util/size.js';
import { parseDuration } from '../containerfile/duration.js';
import type { ImageFilter } from '../store/gc.js';
import { humanSize } from './render.js';

const invalid = (message: string): TsbuildError => new TsbuildError('INVALID_ARGUMENT', message, { exitCode: 125 });

/** podman image prune --filter: until=<timestamp|duration>, label=<key>[=<value>], label!=<key>[=<value>]. */
export function parseImageFilters(values: readonly string[], now = Date.now()): ImageFilter[] {
  return values.map((raw) => {
    const m = /^(until|label!?)=(.*)$/.exec(raw);
    if (!m) throw invalid(`invalid --filter "${raw}": expected until=<timestamp|duration>, label=<key>[=<value>] or label!=<key>[=<value>]`);
    const [, name, value] = m as unknown as [string, string, string];
    if (name === 'until') return { kind: 'until', before: untilTime(value, raw, now) };
    if (value === '') throw invalid(`invalid --filter "${raw}": a label filter needs a key`);
    const eq = value.indexOf('=');
    return { kind: 'label', key: eq < 0 ? value : value.slice(0, eq), value: eq < 0 ? undefined : value.slice(eq + 1), negate: name === 'label!' };
  });
}

/** A Go duration before now (24h, 90m), a Unix time in seconds, or an RFC 3339 date/time. */
function untilTime(value: string, raw: string, now: number): number {
  const ns = parseDuration(value);
  if (ns !== undefined && !/^\d+(\.\d+)?$/.test(value)) return now - ns / 1e6;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw invalid(`invalid --filter "${raw}": expected a duration (24h), a Unix time or an RFC 3339 time`);
  return t;
}

/** --keep-storage: <number>[<unit>], units b, k, m, g, t (also kb, kib, ...), binary multiples as docker reads them. */
export function parseStorageSize(value: string, flag = '--keep-storage'): number {
  const bytes = parseByteSize(value);
  if (bytes === undefined) throw invalid(`invalid ${flag} "${value}": expected <number>[<unit>] with unit b, k, m, g or t (e.g. 512m, 10GB)`);
  return bytes;
}

export function reclaimedLine(bytes: number): string {
  return `Total reclaimed space: ${humanSize(bytes)}\n`;
}
