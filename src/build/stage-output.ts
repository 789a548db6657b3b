// Output of one stage when several stages build at once: every line (step lines, RUN output) goes
// out whole and prefixed with the stage, so concurrent stages interleave by line, never mid-line.
import { Writable } from 'node:stream';

export class PrefixedLines extends Writable {
  private pending = '';

  constructor(
    private readonly destination: NodeJS.WritableStream,
    private readonly prefix: string,
  ) {
    super({ decodeStrings: false });
  }

  /** One line of the stage's own (a step line, "--> Using cache"), after any partial RUN output. */
  line(text: string): void {
    this.flushPartial();
    this.destination.write(`${this.prefix}${text}\n`);
  }

  /** Ends a partial last line (RUN output without a final newline) so the next line starts clean. */
  flushPartial(): void {
    if (this.pending === '') return;
    this.destination.write(`${this.prefix}${this.pending}\n`);
    this.pending = '';
  }

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const text = this.pending + chunk.toString();
    const end = text.lastIndexOf('\n');
    if (end < 0) {
      this.pending = text;
      callback();
      return;
    }
    this.pending = text.slice(end + 1);
    const lines = text.slice(0, end).split('\n').map((l) => `${this.prefix}${l}\n`).join('');
    // Backpressure: the container's pipe waits while the terminal or log file catches up.
    if (this.destination.write(lines)) callback();
    else this.destination.once('drain', () => callback());
  }
}
