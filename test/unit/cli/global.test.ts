// The CLI start-up without loading the store or the command modules: the default root must stay
// the store's, and only a bare --version skips yargs.
import { describe, expect, it } from 'vitest';
import { DEFAULT_ROOT as CLI_DEFAULT_ROOT, wantsStack } from '../../../src/cli/global.js';
import { asksOnlyVersion } from '../../../src/cli/argv.js';
import { DEFAULT_ROOT } from '../../../src/store/root.js';

describe('global flags', () => {
  it('defaults --root to the store default root', () => {
    expect(CLI_DEFAULT_ROOT).toBe(DEFAULT_ROOT);
  });

  it('prints stack traces only at debug and trace levels', () => {
    expect(wantsStack(['--log-level', 'debug', 'run'])).toBe(true);
    expect(wantsStack(['--log-level=trace'])).toBe(true);
    expect(wantsStack(['--log-level', 'warn'])).toBe(false);
  });
});

describe('asksOnlyVersion', () => {
  it('is true for --version with global options only', () => {
    expect(asksOnlyVersion(['--version'])).toBe(true);
    expect(asksOnlyVersion(['--root', '/r', '--log-level=debug', '--version'])).toBe(true);
  });

  it('leaves everything else to yargs', () => {
    expect(asksOnlyVersion(['version'])).toBe(false);
    expect(asksOnlyVersion(['--version', '--help'])).toBe(false);
    expect(asksOnlyVersion(['run', '--version'])).toBe(false);
    expect(asksOnlyVersion([])).toBe(false);
  });
});
