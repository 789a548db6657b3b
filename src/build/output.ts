// --output (podman build, docker buildx): the final stage's root filesystem exported besides the
// image, as a directory (type=local) or a tar archive (type=tar, `-` for stdout). The tree is read
// from an overlay view of the layers, so whiteouts are already applied, and streamed as one tar
// with owners, modes, links and xattrs; a directory gets it through the archive extractor, which
// never writes outside it. A failed export leaves no file or directory it created behind.
import { lstat, mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { applyTar, writeLayerTar } from '../archive/index.js';
import { TsbuildError, errnoCode } from '../errors.js';
import type { LayerRef } from '../image/image.js';
import { withView } from '../image/view.js';
import type { Stores } from '../store/root.js';
import { tempName } from '../util/fs.js';

export interface OutputTarget {
  type: 'local' | 'tar';
  /** A path, or `-` for standard output (tar only). */
  dest: string;
  /** With dest `-`: the stream (stdout) the archive goes to; it is not ended. */
  stream?: NodeJS.WritableStream;
}

/**
 * `type=local,dest=DIR`, `type=tar,dest=FILE|-`, or just a destination (`DIR`, or `-` for a tar on
 * stdout), as buildah, podman and docker buildx read --output.
 */
export function parseOutputSpec(value: string): OutputTarget {
  const fail = (why: string): TsbuildError =>
    new TsbuildError('INVALID_ARGUMENT', `--output "${value}": ${why}`, { hint: 'e.g. --output type=local,dest=out, --output type=tar,dest=rootfs.tar, or -o out' });
  if (value === '') throw fail('empty value');
  if (!value.includes('=')) return value === '-' ? { type: 'tar', dest: '-' } : { type: 'local', dest: value };
  const fields = new Map<string, string>();
  for (const field of value.split(',')) {
    const eq = field.indexOf('=');
    if (eq <= 0) throw fail(`"${field}" is not KEY=VALUE`);
    const key = field.slice(0, eq).trim().toLowerCase();
    if (fields.has(key)) throw fail(`${key} given twice`);
    fields.set(key, field.slice(eq + 1));
  }
  const type = fields.get('type') ?? 'local';
  if (type !== 'local' && type !== 'tar') throw fail(`type "${type}" is not supported (expected local or tar)`);
  for (const key of fields.keys()) {
    if (key !== 'type' && key !== 'dest') throw fail(`unknown key "${key}" (expected type and dest)`);
  }
  const dest = fields.get('dest');
  if (dest === undefined || dest === '') throw fail('missing dest=PATH');
  if (type === 'local' && dest === '-') throw fail('type=local needs a directory; use type=tar,dest=- for a tar on standard output');
  return { type, dest };
}

/** Writes the root filesystem of `layers` to the target. */
export async function exportRootfs(stores: Stores, layers: readonly LayerRef[], target: OutputTarget): Promise<void> {
  await withView(stores, layers, async (root) => {
    if (target.stream) await writeLayerTar(root, keepOpen(target.stream), { mode: 'plain' });
    else if (target.type === 'tar') await exportTar(root, target.dest);
    else await exportDir(root, target.dest);
  });
}

/** The archive goes to a temp file beside the destination and is renamed into place once complete. */
async function exportTar(root: string, file: string): Promise<void> {
  const dest = path.resolve(file);
  if ((await lstat(dest).catch(() => undefined))?.isDirectory()) {
    throw new TsbuildError('INVALID_ARGUMENT', `--output ${file}: is a directory (type=tar needs a file)`);
  }
  const tmp = tempName(path.dirname(dest), 'output');
  let handle: FileHandle | undefined;
  try {
    // Opened first, so that a destination that cannot be written fails here and not in a stream event.
    handle = await open(tmp, 'wx', 0o644);
    await writeLayerTar(root, handle.createWriteStream(), { mode: 'plain' });
    await rename(tmp, dest);
  } catch (err) {
    throw ioError(err, file);
  } finally {
    // The stream closes the handle when it ends; a walk that failed first never opened the stream.
    await handle?.close().catch(() => undefined);
    await rm(tmp, { force: true });
  }
}

/** Extracts into the directory, merging with what is there (buildx, buildah); one it made is removed again on failure. */
async function exportDir(root: string, dir: string): Promise<void> {
  const dest = path.resolve(dir);
  const existing = await lstat(dest).catch(() => undefined);
  if (existing && !existing.isDirectory()) throw new TsbuildError('INVALID_ARGUMENT', `--output ${dir}: exists and is not a directory`);
  let created: string | undefined;
  try {
    created = existing ? undefined : await mkdir(dest, { recursive: true, mode: 0o755 });
    const pipe = new PassThrough();
    // Either side failing must stop the other: an extractor that gave up would stall the writer.
    await Promise.all([
      writeLayerTar(root, pipe, { mode: 'plain' }).catch((err: unknown) => {
        pipe.destroy(err as Error);
        throw err;
      }),
      applyTar(pipe, dest, { whiteouts: 'none', what: `--output ${dir}` }).catch((err: unknown) => {
        pipe.destroy();
        throw err;
      }),
    ]);
  } catch (err) {
    if (created !== undefined) await rm(created, { recursive: true, force: true });
    throw ioError(err, dir);
  }
}

/** A writable that forwards to `stream` with backpressure but never ends it (stdout stays usable). */
function keepOpen(stream: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      const onError = (err: Error): void => callback(err);
      stream.once('error', onError);
      const done = (): void => {
        stream.off('error', onError);
        callback();
      };
      if (stream.write(chunk)) done();
      else stream.once('drain', done);
    },
  });
}

function ioError(err: unknown, dest: string): unknown {
  if (err instanceof TsbuildError) return err;
  const code = errnoCode(err);
  return code ? new TsbuildError('IO', `--output ${dest}: ${(err as Error).message}`, { cause: err }) : err;
}
