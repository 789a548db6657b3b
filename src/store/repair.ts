// `system check --repair`: carries out the repairs check.ts attached to its problems. Mounts go
// first (a directory cannot be removed while something is mounted on it), then images (whose
// record is the only thing that makes their blobs reachable), then files, locks and runc state.
import { rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { shortId } from '../oci/types.js';
import * as sys from '../sys/helper.js';
import { execFile } from '../util/exec.js';
import { mountedTargets } from '../util/mounts.js';
import type { Problem, RepairAction } from './check.js';
import { removeStaleLock } from './lock.js';
import type { Stores } from './root.js';

const ORDER: RepairAction['kind'][] = ['unmount', 'remove-container', 'remove-image', 'untag', 'remove-path', 'remove-lock', 'delete-runc'];

/**
 * Repairs every problem (those that lose a container's changes only with `force`); returns one
 * line per repair done ("removed ...").
 */
export async function repairStore(stores: Stores, problems: readonly Problem[], options: { force?: boolean } = {}): Promise<string[]> {
  const done: string[] = [];
  const seen = new Set<string>();
  const sorted = problems
    .filter((p) => options.force || !p.needsForce)
    .sort((a, b) => ORDER.indexOf(a.repair.kind) - ORDER.indexOf(b.repair.kind));
  for (const { repair } of sorted) {
    // One image with several broken layers is one removal.
    const key = JSON.stringify(repair);
    if (seen.has(key)) continue;
    seen.add(key);
    const line = await apply(stores, repair);
    if (line) done.push(line);
  }
  return done;
}

async function apply(stores: Stores, action: RepairAction): Promise<string | undefined> {
  const rel = (p: string): string => path.relative(stores.layout.root, p);
  switch (action.kind) {
    case 'unmount':
      await unmountAll(action.target);
      if (action.removeDir) await rmdir(action.target).catch(() => undefined);
      return `unmounted ${rel(action.target)}`;
    case 'remove-container':
      await unmountUnder(action.dir);
      await rm(action.dir, { recursive: true, force: true });
      return `removed ${rel(action.dir)}`;
    case 'remove-image': {
      const record = (await stores.images.list()).find((i) => i.id === action.id);
      await stores.images.delete(action.id).catch(() => undefined);
      await rm(action.file, { force: true });
      // Its manifest goes with it unless another record shares it (as rmi does); the config blob
      // is the image ID, so no other record can share it. Layers stay: other images may use them.
      if (record) {
        const others = await stores.images.list();
        if (!others.some((o) => o.manifestDigest === record.manifestDigest)) await stores.content.remove(record.manifestDigest).catch(() => undefined);
        await stores.content.remove(record.id).catch(() => undefined);
      }
      const name = record?.names[0] ?? '<none>';
      return `removed image ${name} (${shortId(action.id) || rel(action.file)}): its content is damaged`;
    }
    case 'untag':
      await stores.images.untag(action.id, action.name);
      return `removed name ${action.name} from image ${shortId(action.id)}`;
    case 'remove-path':
      await rm(action.path, { recursive: true, force: true });
      return `removed ${rel(action.path)}`;
    case 'remove-lock':
      await removeStaleLock(action.path, action.pid);
      return `removed ${rel(action.path)}`;
    case 'delete-runc':
      await execFile(['runc', '--root', stores.layout.runcState, 'delete', '--force', action.id], { allowExitCodes: [1] });
      // runc refuses state it cannot parse; its directory is only runc's state, so it goes too.
      await rm(path.join(stores.layout.runcState, action.id), { recursive: true, force: true });
      return `deleted runc container ${action.id.slice(0, 21)}`;
  }
}

/** Unmounts target and whatever is stacked on it (lazily when busy). */
async function unmountAll(target: string): Promise<void> {
  for (let i = 0; i < 8 && (await mountedTargets()).has(target); i++) {
    await sys.unmount(target);
  }
}

async function unmountUnder(dir: string): Promise<void> {
  const targets = [...(await mountedTargets())].filter((t) => t.startsWith(`${dir}/`)).sort().reverse();
  for (const t of targets) await unmountAll(t);
}
