// `from IMAGE`: a new working container on an image (or on nothing, `scratch`), buildah's way of
// building without a Containerfile. The image config is copied into image-config.json, where
// `config` edits it and `commit` turns it into the new image's config.
import { mkdir } from 'node:fs/promises';
import { emptyConfig, cloneConfig } from '../build/stage-state.js';
import { removeContainerDir } from '../container/records.js';
import { containerPaths } from '../container/paths.js';
import { defaultConfig, type ContainerRecord } from '../container/types.js';
import { TsbuildError, isTsbuildError } from '../errors.js';
import { loadImage } from '../image/image.js';
import type { ImageRecord } from '../image/store.js';
import type { ImageConfig } from '../oci/types.js';
import type { RegistryFlags } from '../remote/connect.js';
import type { PullPolicy } from '../remote/policy.js';
import type { Progress } from '../remote/types.js';
import { leaseImage } from '../store/references.js';
import type { Stores } from '../store/root.js';
import { writeJsonAtomic } from '../util/fs.js';
import { createWorkingRecord, imageConfigPath, mirrorImageConfig, workingContainerName } from './records.js';

export interface FromOptions {
  image: string;
  name?: string;
  pull?: { policy: PullPolicy; flags?: RegistryFlags; progress?: Progress };
  signal?: AbortSignal;
}

export async function fromImage(stores: Stores, options: FromOptions): Promise<ContainerRecord> {
  let config: ImageConfig;
  let imageName: string;
  let imageId: string;
  if (options.image === 'scratch') {
    config = emptyConfig();
    imageName = '';
    imageId = '';
  } else {
    const record = await findImage(stores, options);
    await leaseImage(stores, record, `image "${options.image}"`); // until the record below keeps it (store/lease.ts)
    config = cloneConfig((await loadImage(stores, record)).config);
    imageName = record.names[0] ?? options.image;
    imageId = record.id;
  }
  const created = await createWorkingRecord(stores, {
    name: options.name,
    baseName: workingContainerName(imageName || options.image),
    image: imageName,
    imageId,
    config: mirrorImageConfig(defaultConfig(), config),
  });
  try {
    await mkdir(containerPaths(stores, created.id).upper, { recursive: true, mode: 0o755 });
    await writeJsonAtomic(imageConfigPath(stores, created.id), config);
  } catch (err) {
    await removeContainerDir(stores, created.id);
    throw err;
  }
  return created;
}

/** The image: local, or pulled under the --pull policy (buildah's default: missing). */
async function findImage(stores: Stores, options: FromOptions): Promise<ImageRecord> {
  const policy = options.pull?.policy ?? 'missing';
  if (policy === 'missing' || policy === 'never') {
    const local = await stores.images.find(options.image);
    if (local) return local;
    if (policy === 'never') {
      throw new TsbuildError('NOT_FOUND', `image "${options.image}" not found in local storage (--pull=never)`, { exitCode: 125 });
    }
  }
  const { resolveImage } = await import('../remote/policy.js');
  try {
    return await resolveImage(stores, options.image, {
      ...options.pull?.flags,
      policy,
      progress: options.pull?.progress,
      logger: stores.logger,
      signal: options.signal,
    });
  } catch (err) {
    if (isTsbuildError(err) && err.exitCode === undefined) throw new TsbuildError(err.code, err.message, { hint: err.hint, cause: err, exitCode: 125 });
    throw err;
  }
}
