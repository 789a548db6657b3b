// Side-by-side builds with Debian's buildah (the reference builder): the same Containerfile and
// context built by tsbuild and by buildah, both exported as OCI archives and read back into the same
// view (image config + the merged file tree), so tests compare what a user of either would get.
// buildah runs with runc and a private --root/--runroot, never the machine's shared storage.
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { promisify } from 'node:util';
import tar from 'tar-stream';
import type { TestRoot } from './tsbuild.js';

const run = promisify(execFile);

export function buildahAvailable(): boolean {
  try {
    execFileSync('buildah', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface FileView {
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  link?: string;
  /** sha256 hex of a regular file's content. */
  sha256?: string;
  mtime: number;
}

export interface ImageView {
  /** The OCI image config JSON (architecture, os, config, rootfs, history, ...). */
  config: Record<string, any>;
  /** The merged root filesystem: path without leading slash (e.g. "etc/passwd") -> entry. */
  files: Map<string, FileView>;
  /** Manifest annotations, if any. */
  annotations?: Record<string, string>;
}

export interface BothViews {
  tsbuild: ImageView;
  buildah: ImageView;
}

/**
 * Builds `contextDir` with `tsbuild bud` in `t` and with `buildah bud` in a private store, both with
 * `budArgs` (e.g. ['-f', 'Containerfile', '--build-arg', 'X=1']) and tagged `name`. Base images
 * named `localhost/...` that the Containerfile uses must exist in `t`: pass them as `bases` and they
 * are copied into buildah's store first (default: localhost/busybox-base).
 */
export async function buildBoth(
  contextDir: string,
  budArgs: readonly string[],
  t: TestRoot,
  name: string,
  options: { bases?: string[]; buildahArgs?: string[] } = {},
): Promise<BothViews> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-buildah-'));
  const storage = ['--root', path.join(work, 'root'), '--runroot', path.join(work, 'runroot'), '--storage-driver', 'overlay'];
  try {
    for (const base of options.bases ?? ['localhost/busybox-base']) {
      const archive = path.join(work, 'base.tar');
      await t.ok(['save', '--format', 'oci-archive', '-o', archive, base]);
      const { stdout } = await run('buildah', [...storage, 'pull', '-q', `oci-archive:${archive}`]);
      await run('buildah', [...storage, 'tag', stdout.trim(), base]);
      await rm(archive);
    }
    await t.ok(['bud', '-q', ...budArgs, '-t', name, contextDir]);
    const ours = path.join(work, 'tsbuild.tar');
    await t.ok(['save', '--format', 'oci-archive', '-o', ours, name]);

    await run('buildah', [...storage, 'bud', '--runtime', '/usr/sbin/runc', '--layers', '-q', ...budArgs, ...(options.buildahArgs ?? []), '-t', name, contextDir], {
      maxBuffer: 64 * 1024 * 1024,
    });
    const theirs = path.join(work, 'buildah.tar');
    await run('buildah', [...storage, 'push', '--disable-compression', name, `oci-archive:${theirs}`]);
    return { tsbuild: await readOciArchive(ours), buildah: await readOciArchive(theirs) };
  } finally {
    // buildah's overlay store leaves mounts under its root; unmount before removing.
    await run('buildah', [...storage, 'rm', '--all']).catch(() => undefined);
    await run('umount', ['-R', path.join(work, 'root', 'overlay')]).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  }
}

/** Reads the one image of an OCI archive: config, manifest annotations and the merged file tree. */
export async function readOciArchive(file: string): Promise<ImageView> {
  const blobs = await readTarEntries(await readFile(file));
  const json = (name: string): any => JSON.parse(blobs.get(name)!.data.toString('utf8'));
  const blob = (digest: string): Buffer => blobs.get(`blobs/${digest.replace(':', '/')}`)!.data;
  const index = json('index.json');
  const manifest = JSON.parse(blob(index.manifests[0].digest).toString('utf8'));
  const config = JSON.parse(blob(manifest.config.digest).toString('utf8'));
  const files = new Map<string, FileView>();
  for (const layer of manifest.layers as { digest: string }[]) {
    let data = blob(layer.digest);
    if (data[0] === 0x1f && data[1] === 0x8b) data = gunzipSync(data);
    applyLayer(files, await readTarEntries(data));
  }
  return { config, files, ...(manifest.annotations && { annotations: manifest.annotations }) };
}

/** Applies one layer's entries (whiteouts and opaque dirs included) to the file map. */
function applyLayer(files: Map<string, FileView>, entries: Map<string, TarEntry>): void {
  for (const name of entries.keys()) {
    const dir = path.posix.dirname(name);
    const base = path.posix.basename(name);
    const prefix = dir === '.' ? '' : `${dir}/`;
    if (base === '.wh..wh..opq') {
      for (const p of [...files.keys()]) if (p.startsWith(prefix) && p !== dir && !entries.has(p)) files.delete(p);
    } else if (base.startsWith('.wh.')) {
      const gone = `${prefix}${base.slice(4)}`;
      for (const p of [...files.keys()]) if (p === gone || p.startsWith(`${gone}/`)) files.delete(p);
    }
  }
  for (const [name, entry] of entries) {
    if (path.posix.basename(name).startsWith('.wh.')) continue;
    files.set(name, entry.view);
  }
}

interface TarEntry {
  view: FileView;
  data: Buffer;
}

const TYPES: Record<string, FileView['type']> = {
  file: 'file',
  directory: 'dir',
  symlink: 'symlink',
  link: 'hardlink',
  'character-device': 'char',
  'block-device': 'block',
  fifo: 'fifo',
};

async function readTarEntries(data: Buffer): Promise<Map<string, TarEntry>> {
  const out = new Map<string, TarEntry>();
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const content = Buffer.concat(chunks);
        const name = header.name.replace(/^\.?\/+/, '').replace(/\/+$/, '');
        if (name !== '' && name !== '.') {
          const type = TYPES[header.type ?? 'file'] ?? 'file';
          out.set(name, {
            data: content,
            view: {
              type,
              mode: (header.mode ?? 0) & 0o7777,
              uid: header.uid ?? 0,
              gid: header.gid ?? 0,
              size: type === 'file' ? content.length : 0,
              ...(header.linkname ? { link: header.linkname } : {}),
              ...(type === 'file' ? { sha256: createHash('sha256').update(content).digest('hex') } : {}),
              mtime: header.mtime ? header.mtime.getTime() / 1000 : 0,
            },
          });
        }
        next();
      });
      stream.on('error', reject);
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  extract.end(data);
  await done;
  return out;
}

/**
 * The parts of a file tree worth comparing between builders: type, mode, owner, size, link, content.
 * mtimes differ between any two builds and are left out; `ignore` drops paths (e.g. buildah's
 * /run or /etc/hosts leftovers) that the test explains.
 */
export function comparableTree(view: ImageView, ignore: (p: string) => boolean = () => false): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [p, f] of [...view.files].sort(([a], [b]) => a.localeCompare(b))) {
    if (ignore(p)) continue;
    out[p] = `${f.type} ${f.mode.toString(8)} ${f.uid}:${f.gid}${f.type === 'file' ? ` ${f.size} ${f.sha256!.slice(0, 12)}` : ''}${f.link ? ` -> ${f.link}` : ''}`;
  }
  return out;
}
