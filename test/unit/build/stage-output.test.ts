import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { PrefixedLines } from '../../../src/build/stage-output.js';

function collect(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString() };
}

const write = (s: PrefixedLines, text: string) => new Promise<void>((resolve) => s.write(text, () => resolve()));

describe('PrefixedLines', () => {
  it('writes only whole lines, each with the prefix, joining lines split across chunks', async () => {
    const out = collect();
    const lines = new PrefixedLines(out.stream, '[a] ');
    await write(lines, 'one\ntw');
    expect(out.text()).toBe('[a] one\n');
    await write(lines, 'o\nthree\n');
    expect(out.text()).toBe('[a] one\n[a] two\n[a] three\n');
  });

  it('ends a partial line before the stage\'s own next line, and on flush', async () => {
    const out = collect();
    const lines = new PrefixedLines(out.stream, '[b] ');
    await write(lines, 'no newline');
    lines.line('STEP 2/2: RUN x');
    await write(lines, 'tail');
    lines.flushPartial();
    lines.flushPartial();
    expect(out.text()).toBe('[b] no newline\n[b] STEP 2/2: RUN x\n[b] tail\n');
  });
});
