// rmi: removing a name, or an image with all its names. The image's manifest and config blobs go
// with it; its layers stay as build cache until a prune (layers are shared by chain ID).
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
