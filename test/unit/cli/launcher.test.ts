// bin/tsbuild starts node from the start-up snapshot only when the blob belongs to this node binary
// and is newer than the compiled sources; otherwise it loads dist/ as modules. The launcher's
// choice is read from `sh -x`, in a copy of the package layout whose files the test controls.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, realpathSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const REPO = path.resolve(import.meta.dirname, '../../..');

function nodeKey(): string {
  const st = statSync(realpathSync(process.execPath));
  return `${st.ino}:${Math.floor(st.ctimeMs / 1000)}:${st.size}`;
}

describe('bin/tsbuild', () => {
  let pkg: string;
  beforeEach(() => {
    pkg = mkdtempSync(path.join(os.tmpdir(), 'tsbuild-launcher-'));
    mkdirSync(path.join(pkg, 'bin'));
    mkdirSync(path.join(pkg, 'dist', 'cli'), { recursive: true });
    copyFileSync(path.join(REPO, 'bin', 'tsbuild'), path.join(pkg, 'bin', 'tsbuild'));
    writeFileSync(path.join(pkg, 'dist', 'cli', 'main.js'), 'export async function main() { console.log("modules"); }\n');
    writeFileSync(path.join(pkg, 'dist', 'tsbuild.blob'), '');
    writeFileSync(path.join(pkg, 'dist', 'tsbuild.blob.key'), `${nodeKey()}\n`);
    const old = new Date(Date.now() - 60_000);
    utimesSync(path.join(pkg, 'dist', 'cli', 'main.js'), old, old);
  });
  afterEach(() => rmSync(pkg, { recursive: true, force: true }));

  /** The command line the launcher execs, from its trace. */
  function launch(env: NodeJS.ProcessEnv = {}): { exec: string; stdout: string } {
    // The node binary of this test first on PATH, so its key is the one written above.
    const PATH = `${path.dirname(process.execPath)}:${process.env.PATH}`;
    const r = spawnSync('sh', ['-x', path.join(pkg, 'bin', 'tsbuild'), '--version'], { env: { PATH, ...env }, encoding: 'utf8' });
    const exec = r.stderr.split('\n').filter((l) => l.startsWith('+ exec ')).pop() ?? '';
    return { exec, stdout: r.stdout };
  }

  it('uses the snapshot made by this node and newer than dist/, passing its own path first', () => {
    const { exec } = launch();
    expect(exec).toBe(`+ exec ${realpathSync(process.execPath)} --snapshot-blob ${realpathSync(pkg)}/dist/tsbuild.blob ${realpathSync(pkg)}/bin/tsbuild --version`);
  });

  it('loads dist/ as modules when the blob is older than the compiled sources', () => {
    const old = new Date(Date.now() - 120_000);
    utimesSync(path.join(pkg, 'dist', 'tsbuild.blob'), old, old);
    expect(launch()).toEqual({ exec: `+ exec node ${path.join(pkg, 'bin', 'tsbuild')} --version`, stdout: 'modules\n' });
  });

  it('loads dist/ as modules when the blob was made by another node binary', () => {
    writeFileSync(path.join(pkg, 'dist', 'tsbuild.blob.key'), '1:2:3\n');
    expect(launch().stdout).toBe('modules\n');
  });

  it('loads dist/ as modules without a blob, and with TSBUILD_NO_SNAPSHOT set', () => {
    expect(launch({ TSBUILD_NO_SNAPSHOT: '1' }).stdout).toBe('modules\n');
    rmSync(path.join(pkg, 'dist', 'tsbuild.blob'));
    rmSync(path.join(pkg, 'dist', 'tsbuild.blob.key'));
    expect(launch().stdout).toBe('modules\n');
  });
});
