// Go's time.ParseDuration, because HEALTHCHECK durations are written in Go syntax (`1m30s`, `500ms`)
// and the image config stores them as nanoseconds.

const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3,
  'μs': 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Nanoseconds of a Go duration string, or undefined if it is not one. */
export function parseDuration(text: string): number | undefined {
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s.startsWith('-')) sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return undefined;
  let total = 0;
  const re = /^(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/;
  while (s.length > 0) {
    const m = re.exec(s);
    if (!m || (m[1] === '' && (m[2] ?? '') === '')) return undefined;
    const value = Number(`${m[1] || '0'}.${m[2] ?? ''}0`);
    total += value * (UNIT_NS[m[3] as string] as number);
    s = s.slice(m[0].length);
  }
  return sign * Math.round(total);
}
