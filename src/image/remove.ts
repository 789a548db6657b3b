// rmi: removing a name, or an image with all its names. The image's manifest and config blobs go
// with it; its layers stay as build cache until a prune (layers are shared by chain ID). An image a
// container (or working container) was made from is not removed, as in podman, unless --force,
// which removes those containers first: a container must always find its image.
import { TsbuildError } from '../errors.js';
import { shortId } from '../oci/types.js';
import { removeBlobsIfUnreferenced } from '../store/gc.js';
import type { Stores } from '../store/root.js';
import { normalizeImageName, shortNameMatches } from './names.js';

export interface RemoveResult {
  untagged: string[];
  deleted?: string;
}

export async function removeImage(stores: Stores, ref: string, options: { force: boolean }): Promise<RemoveResult> {
  const image = await stores.images.get(ref);
  const byName = image.names.find((n) => n === safeNormalize(ref) || shortNameMatches(ref, n));
  const byId = image.id.replace(/^sha256:/, '').startsWith(ref.replace(/^sha256:/, ''));
  if (!byId && byName && image.names.length > 1) {
    await stores.images.untag(image.id, byName);
    return { untagged: [byName] };
  }
  if (image.names.length > 1 && !options.force) {
    throw new TsbuildError('INVALID_ARGUMENT', `image ${shortId(image.id)} has several names (${image.names.join(', ')})`, {
      hint: 'remove it by name one at a time, or use --force',
    });
  }
  await removeUsers(stores, image.id, shortId(image.id), options.force);
  await stores.images.delete(image.id);
  // Unless another image or a running command (a build committing the same config) still uses them.
  await removeBlobsIfUnreferenced(stores, [image.manifestDigest, image.id]);
  return { untagged: image.names, deleted: image.id };
}

function safeNormalize(ref: string): string | undefined {
  try {
    return normalizeImageName(ref);
  } catch {
    return undefined;
  }
}

async function removeUsers(stores: Stores, id: string, shown: string, force: boolean): Promise<void> {
  const { readAllRecords } = await import('../container/records.js');
  const users = (await readAllRecords(stores)).filter((r) => r.imageId === id);
  if (users.length === 0) return;
  if (!force) {
    throw new TsbuildError('IN_USE', `image ${shown} is in use by container(s) ${users.map((u) => u.name).join(', ')}`, {
      exitCode: 2,
      hint: 'remove those containers first, or use "tsbuild rmi -f" to remove them too',
    });
  }
  for (const user of users) {
    if (user.kind === 'working') await (await import('../working/remove.js')).removeWorkingContainer(stores, user, { force: true });
    else await (await import('../container/remove.js')).removeContainerRecord(stores, user, { force: true });
  }
}
