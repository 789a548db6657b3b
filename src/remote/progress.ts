// Progress output of pull and push on stderr. Not a terminal (CI logs, tests): one line when a blob
// starts and one when it finishes, nothing in between, so logs stay short and diffable. A
// terminal: one line per active blob with a bar, redrawn at most every 100 ms in place. Quiet:
// nothing at all. Library callers pass their own Progress or none (silentProgress).
import type { Progress } from './types.js';

export interface ProgressSink extends Progress {
  /** Draws the final state; call once when the transfer is over (success or not). */
  close(): void;
}

export const silentProgress: ProgressSink = {
  start: () => undefined,
  advance: () => undefined,
  finish: () => undefined,
  note: () => undefined,
  close: () => undefined,
};

export function createProgress(options: { stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }; quiet?: boolean }): ProgressSink {
  if (options.quiet) return silentProgress;
  return options.stream.isTTY ? barProgress(options.stream) : lineProgress(options.stream);
}

export function formatBytes(n: number): string {
  if (n < 0) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function lineProgress(stream: NodeJS.WritableStream): ProgressSink {
  const sizes = new Map<string, number>();
  return {
    start(id, label, size) {
      sizes.set(id, size);
      stream.write(`${label}${size >= 0 ? ` (${formatBytes(size)})` : ''}\n`);
    },
    advance: () => undefined,
    finish(id, status) {
      stream.write(`${id}: ${status}\n`);
    },
    note(line) {
      stream.write(`${line}\n`);
    },
    close: () => undefined,
  };
}

interface Bar {
  label: string;
  size: number;
  done: number;
  status?: string;
}

function barProgress(stream: NodeJS.WritableStream & { columns?: number }): ProgressSink {
  const bars = new Map<string, Bar>();
  let drawn = 0;
  let timer: NodeJS.Timeout | undefined;

  const render = (bar: Bar): string => {
    const width = Math.max(10, Math.min(40, (stream.columns ?? 80) - bar.label.length - 30));
    if (bar.status !== undefined) return `${bar.label} ${bar.status}`;
    const fraction = bar.size > 0 ? Math.min(1, bar.done / bar.size) : 0;
    const filled = Math.round(fraction * width);
    const amount = `${formatBytes(bar.done)} / ${formatBytes(bar.size)}`;
    return `${bar.label} [${'='.repeat(filled)}${' '.repeat(width - filled)}] ${amount}`;
  };
  const draw = (): void => {
    timer = undefined;
    // Move up over the active block drawn last time and redraw it. Finished blobs are printed
    // first, as plain lines that stay, so the active ones always form the bottom block.
    const all = [...bars.entries()];
    const finished = all.filter(([, b]) => b.status !== undefined);
    const active = all.filter(([, b]) => b.status === undefined);
    let out = drawn > 0 ? `\x1b[${drawn}A` : '';
    for (const [id, bar] of [...finished, ...active]) {
      out += `\x1b[2K${render(bar)}\n`;
      if (bar.status !== undefined) bars.delete(id);
    }
    drawn = active.length;
    stream.write(out);
  };
  const schedule = (): void => {
    timer ??= setTimeout(draw, 100);
  };
  const flush = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    draw();
  };
  return {
    start(id, label, size) {
      bars.set(id, { label, size, done: 0 });
      schedule();
    },
    advance(id, bytes) {
      const bar = bars.get(id);
      if (bar) bar.done += bytes;
      schedule();
    },
    finish(id, status) {
      const bar = bars.get(id);
      if (bar) bar.status = status;
      else bars.set(id, { label: id, size: -1, done: 0, status });
      schedule();
    },
    note(line) {
      // Finished blobs first (they happened before the note), then clear the active block, print
      // the note where it was, and draw the block again below it.
      flush();
      stream.write(`${drawn > 0 ? `\x1b[${drawn}A\x1b[J` : ''}${line}\n`);
      drawn = 0;
      if (bars.size > 0) draw();
    },
    close() {
      flush();
    },
  };
}

/**
 * An upload's progress as the bytes sent so far, reported to onBytes as increments that only move
 * forward: a restarted upload reports nothing until it passes the old mark.
 */
export function forwardProgress(onBytes: ((n: number) => void) | undefined): (sent: number) => void {
  let reported = 0;
  return (sent) => {
    if (sent > reported) {
      onBytes?.(sent - reported);
      reported = sent;
    }
  };
}
