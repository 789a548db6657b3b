// The build's start-up snapshot (dist/tsbuild.blob) is what bin/tsbuild runs, and it behaves as the
// compiled modules do: same output, same errors, same exit codes.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BIN } from '../../helpers/tsbuild.js';

function cli(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(BIN, args, { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the start-up snapshot', () => {
  it('is made by npm run build for this node and used by bin/tsbuild', () => {
    const r = spawnSync('sh', ['-x', BIN, '--version'], { env: { PATH: process.env.PATH }, encoding: 'utf8' });
    expect(r.stderr).toMatch(/^\+ exec \S+ --snapshot-blob \S+\/dist\/tsbuild\.blob /m);
    expect(r.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it.each([['--help'], ['bud', '--help'], ['run', '--help'], ['ps', '--bogus'], ['rmi'], ['nosuchcommand']])(
    'gives what the modules give: tsbuild %s',
    (...args) => {
      expect(cli(args)).toEqual(cli(args, { TSBUILD_NO_SNAPSHOT: '1' }));
    },
  );

  it('speaks English whatever LANG says, as the modules do', () => {
    const german = cli(['ps', '--help'], { LANG: 'de_DE.UTF-8' });
    expect(german.stdout).toContain('Options:');
    expect(german).toEqual(cli(['ps', '--help'], { LANG: 'de_DE.UTF-8', TSBUILD_NO_SNAPSHOT: '1' }));
  });
});
