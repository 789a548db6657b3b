// Canary trees for the escape tests: files and directories beside and above a target root whose
// content, metadata and listing must be exactly the same after the test, plus the host files a
// hostile input would aim at (/etc/passwd and friends) and a check that no payload file appeared
// in /, /etc or /tmp. Payloads in these tests are named "*pwned*" so that last check can find them.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { BIN } from '../../helpers/tsbuild.js';
import { loadImage } from '../../../src/image/image.js';
import { silentLogger } from '../../../src/log.js';
import { openStores } from '../../../src/store/root.js';
import { fingerprint, listTar, type ListedEntry } from '../../unit/helpers-archive.js';

/** Host files a hostile input names most often. */
const HOST_FILES = ['/etc/passwd', '/etc/group', '/etc/shadow', '/etc/hosts'];
const PAYLOAD = /pwned/i;

export interface Canary {
  /** The directory the canary lives in. */
  base: string;
  /** `base/up/root`: the target root, with siblings beside it and above it. */
  root: string;
  /** Fails the test when anything outside `skip` (relative to base) changed, or a payload appeared on the host. */
  check(): void;
}

function hostState(): string[] {
  const out: string[] = [];
  for (const file of HOST_FILES) {
    if (!existsSync(file)) continue;
    const st = lstatSync(file);
    out.push(`${file} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.size} ${st.mtimeMs} ${createHash('sha256').update(readFileSync(file)).digest('hex')}`);
  }
  return out;
}

function payloads(): string[] {
  return ['/', '/etc', '/tmp'].flatMap((dir) => readdirSync(dir).filter((n) => PAYLOAD.test(n)).map((n) => path.join(dir, n)));
}

/**
 * Lays out base/{canary.txt, outside/secret, outside/sub/, up/sibling.txt, up/root/} and records
 * its fingerprint; `skip` lists paths under base that the test may change (the root itself).
 */
export function createCanary(base: string, skip: readonly string[] = ['up/root']): Canary {
  mkdirSync(path.join(base, 'outside', 'sub'), { recursive: true });
  mkdirSync(path.join(base, 'up', 'root'), { recursive: true });
  writeFileSync(path.join(base, 'canary.txt'), 'canary\n');
  writeFileSync(path.join(base, 'outside', 'secret'), 'secret\n');
  writeFileSync(path.join(base, 'up', 'sibling.txt'), 'sibling\n');
  const before = fingerprint(base, skip);
  const host = hostState();
  const planted = payloads();
  return {
    base,
    root: path.join(base, 'up', 'root'),
    check() {
      // Nothing changed or appeared beside or above the root, and nothing reached the host.
      if (JSON.stringify(fingerprint(base, skip)) !== JSON.stringify(before)) {
        throw new Error(`canary tree changed:\n${fingerprint(base, skip).filter((l) => !before.includes(l)).join('\n')}`);
      }
      if (JSON.stringify(hostState()) !== JSON.stringify(host)) throw new Error('a host file in /etc changed');
      const now = payloads().filter((p) => !planted.includes(p));
      if (now.length > 0) throw new Error(`payload appeared on the host: ${now.join(', ')}`);
    },
  };
}

/**
 * Runs the CLI against a root; stdout, stderr and the exit code. After `timeoutMs` the process is
 * killed (exit code -1): for inputs that used to make tsbuild hang.
 */
export function cli(root: string, args: readonly string[], timeoutMs = 300_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, ['--root', root, ...args], { env: { PATH: process.env.PATH, HOME: process.env.HOME }, stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', () => clearTimeout(timer));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** A one-line `Error: ...` on stderr (and at most a `Hint:` line after it) and a non-zero exit. */
export function expectOneLineError(result: { code: number; stderr: string }, message: RegExp): void {
  expect(result.code, result.stderr).not.toBe(0);
  const lines = result.stderr.trim().split('\n').filter((l) => !l.startsWith('Hint: '));
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^Error: /);
  expect(lines[0]).toMatch(message);
}


/**
 * The entries of an image's layers read from the store with tar-stream (an independent reader):
 * the top layer's, or all layers' merged (a later layer's entry wins; whiteouts are not applied).
 */
export async function imageEntries(root: string, name: string, which: 'top' | 'all'): Promise<Map<string, ListedEntry>> {
  const stores = await openStores({ root, logger: silentLogger() });
  const image = await loadImage(stores, await stores.images.get(name));
  const layers = which === 'top' ? image.layers.slice(-1) : image.layers;
  const out = new Map<string, ListedEntry>();
  for (const layer of layers) {
    for (const e of await listTar(readFileSync(stores.content.blobPath(layer.diffId)))) out.set(e.header.name.replace(/\/$/, ''), e);
  }
  return out;
}
