// Test helpers for src/archive: temp dirs, crafted tars (tar-stream pack), reading produced tars
// (tar-stream extract), and a fingerprint of everything outside an extraction root.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { extract, pack, type Headers } from 'tar-stream';
import { writeLayerTar, type WriteLayerOptions } from '../../src/archive/index.js';

export const isRoot = process.getuid?.() === 0;

/** Temp dirs made by tempDir(), removed by cleanupTempDirs() (call it in afterEach). */
const made: string[] = [];
export function tempDir(prefix = 'tsbuild-archive-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}
export function cleanupTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export interface CraftedEntry extends Partial<Omit<Headers, 'name'>> {
  name: string;
  content?: string | Buffer;
}

/** A tar built with tar-stream, as an arbitrary (possibly hostile) producer would write it. */
export async function craftTar(entries: readonly CraftedEntry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    p.on('end', resolve);
    p.on('error', reject);
  });
  for (const { content, ...header } of entries) {
    const body = content === undefined ? undefined : Buffer.from(content);
    await new Promise<void>((resolve, reject) => {
      p.entry(
        { mode: header.type === 'directory' ? 0o755 : 0o644, mtime: new Date(1_600_000_000_000), uid: 0, gid: 0, ...header },
        body,
        (err) => (err ? reject(err) : resolve()),
      );
    });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

export function streamOf(buf: Buffer): Readable {
  return Readable.from([buf]);
}

export interface ListedEntry {
  header: Headers;
  content: Buffer;
}

/** Every entry of a tar as tar-stream reads it (an independent reader, not ours). */
export async function listTar(buf: Buffer): Promise<ListedEntry[]> {
  const ex = extract();
  const out: ListedEntry[] = [];
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, stream, next) => {
      const parts: Buffer[] = [];
      stream.on('data', (c: Buffer) => parts.push(c));
      stream.on('end', () => {
        out.push({ header, content: Buffer.concat(parts) });
        next();
      });
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  ex.end(buf);
  await done;
  return out;
}

/** writeLayerTar into memory. */
export async function layerOf(dir: string, options: WriteLayerOptions): Promise<{ tar: Buffer; digest: string; size: number }> {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  const { digest, size } = await writeLayerTar(dir, sink, options);
  return { tar: Buffer.concat(chunks), digest, size };
}

export function sha256(buf: Buffer): string {
  return `sha256:${createHash('sha256').update(buf).digest('hex')}`;
}

export function run(argv: string[]): string {
  return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
}

/** One xattr as hex ("0x..."), or undefined when it is not set. */
export function getXattr(file: string, name: string): string | undefined {
  try {
    const out = execFileSync('getfattr', ['-h', '--absolute-names', '-e', 'hex', '-n', name, file], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return /=(0x[0-9a-f]*)/.exec(out)?.[1];
  } catch {
    return undefined;
  }
}

/**
 * Everything under `dir` except `skip` (relative names), with type, mode, owner, size, link count,
 * mtime, content hash, link target and xattrs: equal fingerprints mean nothing was touched.
 */
export function fingerprint(dir: string, skip: readonly string[] = []): string[] {
  const lines: string[] = [];
  const walk = (rel: string) => {
    const host = path.join(dir, rel);
    const st = lstatSync(host);
    let detail = '';
    if (st.isFile()) detail = createHash('sha256').update(readFileSync(host)).digest('hex');
    else if (st.isSymbolicLink()) detail = `-> ${readlinkSync(host)}`;
    const xattrs = execFileSync('getfattr', ['-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', host], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes('='))
      .join(',');
    lines.push(`${rel || '.'} mode=${st.mode.toString(8)} ${st.uid}:${st.gid} size=${st.size} nlink=${st.nlink} mtime=${st.mtimeMs} ${detail} ${xattrs}`);
    if (st.isDirectory()) {
      for (const name of readdirSync(host).sort()) {
        const child = rel ? `${rel}/${name}` : name;
        if (!skip.includes(child)) walk(child);
      }
    }
  };
  walk('');
  return lines;
}
