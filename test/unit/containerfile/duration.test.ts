import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../../src/containerfile/index.js';

describe('parseDuration (HEALTHCHECK durations in Go syntax)', () => {
  it('converts Go durations to nanoseconds', () => {
    expect(parseDuration('30s')).toBe(30e9);
    expect(parseDuration('1m30s')).toBe(90e9);
    expect(parseDuration('1.5h')).toBe(5400e9);
    expect(parseDuration('500ms')).toBe(500e6);
    expect(parseDuration('10us')).toBe(10e3);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('-2s')).toBe(-2e9);
  });

  it('rejects text that is not a Go duration', () => {
    for (const bad of ['', '5', 's', '1x', '1.s5', 'soon', '1m 30s']) expect(parseDuration(bad)).toBeUndefined();
  });
});
