// OCI image-layout directories (`oci:DIR[:REF]`, as skopeo and podman name them): write an image
// into one, merging with the images already there, and load images back out. Writing shares the
// planning of oci-archive (save.ts); reading presents the directory through the same interface as
// an extracted archive, so load.ts imports it with the same verification.
import { realpathSync, statSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TsbuildError, errnoCode } from '../../errors.js';
import type { Descriptor, Index } from '../../oci/types.js';
import type { Stores } from '../../store/root.js';
import { pathExists, tempName, writeFileAtomic } from '../../util/fs.js';
import type { ImageRecord } from '../store.js';
import { OCI_INDEX, OCI_LAYOUT } from './common.js';
import { cleanArchiveName, type ExtractedArchive } from './extract.js';
import { importArchive, type LoadOptions } from './load.js';
import { OCI_LAYOUT_DATA, planOciImages, resolveImages, type PlannedEntry } from './save.js';

const REF_NAME = 'org.opencontainers.image.ref.name';
const BLOB_NAME = /^blobs\/sha256\/[a-f0-9]{64}$/;

/**
 * Writes the image `ref` into the layout at `dir` (created when missing); an existing entry with
 * the same ref.name is replaced, every other entry and blob is kept. Blobs are written under temp
 * names and renamed, the index last, so readers never see an entry whose blobs are incomplete.
 * Returns the digest of the manifest written.
 */
export async function writeOciDir(stores: Stores, ref: string, dir: string, options: { reference?: string } = {}): Promise<string> {
  const images = await resolveImages(stores, [ref]);
  const temps: string[] = [];
  try {
    const plan = await planOciImages(stores, images, { compress: false, temps, reference: options.reference });
    const blobDir = path.join(dir, 'blobs', 'sha256');
    await mkdir(blobDir, { recursive: true });
    for (const entry of plan.blobs) await writeBlob(dir, entry);
    const existing = await readIndex(dir);
    const names = new Set(plan.index.manifests.map((m) => m.annotations?.[REF_NAME]).filter((n) => n !== undefined));
    const kept = existing.manifests.filter((m) => {
      const name = m.annotations?.[REF_NAME];
      return name === undefined ? !plan.index.manifests.some((n) => n.digest === m.digest) : !names.has(name);
    });
    const index: Index = { ...existing, manifests: [...kept, ...plan.index.manifests] };
    await writeFileAtomic(path.join(dir, OCI_LAYOUT), OCI_LAYOUT_DATA);
    await writeFileAtomic(path.join(dir, OCI_INDEX), JSON.stringify(index));
    const written = plan.index.manifests[0];
    if (!written) throw new TsbuildError('INTERNAL', `no manifest planned for ${ref}`);
    return written.digest;
  } finally {
    await Promise.all(temps.map((t) => rm(t, { force: true })));
  }
}

async function writeBlob(dir: string, entry: PlannedEntry): Promise<void> {
  if ('dir' in entry) return;
  const target = path.join(dir, entry.name);
  // Blobs are named by their digest: one that is there already has these bytes.
  if (await pathExists(target)) return;
  const tmp = tempName(path.dirname(target), 'blob');
  try {
    if ('data' in entry) await writeFile(tmp, entry.data, { flag: 'wx' });
    else await copyFile(entry.file, tmp);
    await rename(tmp, target);
  } finally {
    await rm(tmp, { force: true });
  }
}

async function readIndex(dir: string): Promise<Index> {
  let text: string;
  try {
    text = await readFile(path.join(dir, OCI_INDEX), 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] };
    throw err;
  }
  try {
    const index = JSON.parse(text) as Index;
    if (!Array.isArray(index.manifests)) throw new Error('no manifests array');
    index.manifests = index.manifests.filter((m): m is Descriptor => typeof m === 'object' && m !== null);
    return index;
  } catch (err) {
    throw new TsbuildError('INVALID_ARGUMENT', `${dir}: index.json is not a valid OCI index; refusing to overwrite it`, { cause: err });
  }
}

/** Imports the images of an OCI layout directory (only `reference`'s when given). */
export async function loadOciDir(stores: Stores, dir: string, options: LoadOptions = {}): Promise<ImageRecord[]> {
  return importArchive(stores, await openOciDir(dir), options);
}

/** An OCI layout directory seen as an extracted archive: only the layout's own file names are readable. */
export async function openOciDir(dir: string): Promise<ExtractedArchive> {
  try {
    if (!(await stat(dir)).isDirectory()) throw new TsbuildError('INVALID_ARGUMENT', `${dir} is not a directory`);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw new TsbuildError('NOT_FOUND', `OCI layout ${dir}: no such directory`, { cause: err });
    throw err;
  }
  if (!(await pathExists(path.join(dir, OCI_LAYOUT)))) {
    throw new TsbuildError('INVALID_ARGUMENT', `${dir}: not an OCI image layout (no oci-layout file)`);
  }
  const fileFor = (name: string): string | undefined => {
    const clean = cleanArchiveName(name);
    if (clean === undefined || !(clean === OCI_INDEX || clean === OCI_LAYOUT || BLOB_NAME.test(clean))) return undefined;
    return path.join(dir, clean);
  };
  const present = new Map<string, boolean>();
  const has = (name: string): boolean => {
    const file = fileFor(name);
    if (file === undefined) return false;
    // ExtractedArchive.has is synchronous; the layout is small and local, so a sync stat is fine.
    let known = present.get(file);
    if (known === undefined) {
      known = statSyncSafe(file, dir);
      present.set(file, known);
    }
    return known;
  };
  const file = (name: string): string => {
    const found = fileFor(name);
    if (found === undefined || !has(name)) {
      throw new TsbuildError('INVALID_ARGUMENT', `OCI layout ${dir}: ${name} is missing`, { hint: 'the layout may be incomplete' });
    }
    return found;
  };
  return { input: dir, has, file, size: async (name) => (await stat(file(name))).size };
}

/**
 * Whether `file` is a regular file that really lies inside the layout `dir`: a blob that is a
 * symlink to a host file (/etc/shadow, a FIFO, another user's data) is not the layout's, so it
 * counts as missing rather than being read.
 */
function statSyncSafe(file: string, dir: string): boolean {
  try {
    const real = realpathSync(file);
    const top = realpathSync(dir);
    return (real === top || real.startsWith(`${top}${path.sep}`)) && statSync(real).isFile();
  } catch {
    return false;
  }
}
