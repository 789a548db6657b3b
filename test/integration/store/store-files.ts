// What a tsbuild root holds on disk, read straight from the files (not through tsbuild), for the
// store tests to check what a prune removed and what `system df` should say.
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { TestRoot } from '../../helpers/tsbuild.js';

export interface ImageOnDisk {
  id: string;
  names: string[];
  manifestDigest: string;
  configDigest: string;
  diffIds: string[];
  chainIds: string[];
}

/** Bytes a tree holds as system df counts them: every non-directory's size, a hard-linked file once. */
export async function treeSize(dir: string): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const walk = async (p: string): Promise<void> => {
    for (const e of await readdir(p, { withFileTypes: true }).catch(() => [])) {
      const child = path.join(p, e.name);
      if (e.isDirectory()) {
        await walk(child);
        continue;
      }
      const st = await lstat(child);
      if (st.nlink > 1) {
        if (seen.has(`${st.dev}:${st.ino}`)) continue;
        seen.add(`${st.dev}:${st.ino}`);
      }
      total += st.size;
    }
  };
  await walk(dir);
  return total;
}

/** Blob digests -> sizes. */
export async function blobs(root: string): Promise<Map<string, number>> {
  const dir = path.join(root, 'blobs', 'sha256');
  const out = new Map<string, number>();
  for (const name of await readdir(dir).catch(() => [] as string[])) out.set(`sha256:${name}`, (await lstat(path.join(dir, name))).size);
  return out;
}

/** Snapshot chain IDs -> sizes. */
export async function snapshots(root: string): Promise<Map<string, number>> {
  const dir = path.join(root, 'snapshots');
  const out = new Map<string, number>();
  for (const name of await readdir(dir).catch(() => [] as string[])) out.set(`sha256:${name}`, await treeSize(path.join(dir, name)));
  return out;
}

export function chainIdsOf(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? d : `sha256:${createHash('sha256').update(`${prev} ${d}`).digest('hex')}`);
  }
  return out;
}

export async function images(root: string): Promise<ImageOnDisk[]> {
  const dir = path.join(root, 'records', 'images');
  const out: ImageOnDisk[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.endsWith('.json')) continue;
    const record = JSON.parse(await readFile(path.join(dir, name), 'utf8')) as { id: string; names: string[]; manifestDigest: string };
    out.push({ ...(await imageParts(root, record.manifestDigest)), id: record.id, names: record.names });
  }
  return out;
}

async function imageParts(root: string, manifestDigest: string): Promise<Omit<ImageOnDisk, 'id' | 'names'>> {
  const blob = (d: string): Promise<string> => readFile(path.join(root, 'blobs', 'sha256', d.slice(7)), 'utf8');
  const manifest = JSON.parse(await blob(manifestDigest)) as { config: { digest: string } };
  const config = JSON.parse(await blob(manifest.config.digest)) as { rootfs: { diff_ids: string[] } };
  return { manifestDigest, configDigest: manifest.config.digest, diffIds: config.rootfs.diff_ids, chainIds: chainIdsOf(config.rootfs.diff_ids) };
}

export async function imageByName(root: string, name: string): Promise<ImageOnDisk> {
  const all = await images(root);
  const found = all.find((i) => i.names.includes(name));
  if (!found) throw new Error(`no image named ${name} in ${root} (have ${all.flatMap((i) => i.names).join(', ')})`);
  return found;
}

/**
 * What is wrong with the store once every command has ended: anything left in tmp/ (each command
 * cleans up after itself; looked at before `system check`, whose start-up recovery would remove
 * it), and every problem `system check` reports. None: [].
 */
export async function storeProblems(t: TestRoot): Promise<string[]> {
  const tmp = await readdir(path.join(t.root, 'tmp')).catch(() => [] as string[]);
  const problems = tmp.length > 0 ? [`tmp/ holds ${tmp.join(', ')}`] : [];
  const check = await t.run(['system', 'check']);
  if (check.code !== 0) problems.push(...check.stdout.split('\n').filter((l) => l !== ''), check.stderr.trim());
  return problems;
}
