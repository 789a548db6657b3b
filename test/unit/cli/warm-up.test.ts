// The start-up snapshot's warm-up (src/cli/warm-up.ts) parses real command lines at build time: it
// must stop every one of them before its handler, so it prints nothing and does nothing.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { warmUp } from '../../../src/cli/warm-up.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('snapshot warm-up', () => {
  it('parses every command line without running a handler or printing', async () => {
    const out = vi.spyOn(process.stdout, 'write');
    const err = vi.spyOn(process.stderr, 'write');
    const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    await warmUp();
    expect(out).not.toHaveBeenCalled();
    expect(err).not.toHaveBeenCalled();
    expect(exit).not.toHaveBeenCalled();
    expect(process.exitCode ?? 0).toBe(0);
  });
});
