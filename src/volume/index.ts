// The volume manager's public surface: the store (named and anonymous volumes under
// <root>/volumes), the mount flags of run/create, and the two steps of a container's life that
// involve mounts: resolveMounts at create, specMounts at each start (and removeAnonymousVolumes
// for `rm -v`).
export {
  createVolumeStore,
  mayBeRunning,
  volumePaths,
  volumeUsers,
  volumesDir,
  type CreateVolumeOptions,
  type VolumeRecord,
  type VolumeStore,
} from './store.js';
export { parseMountFlags, type MountFlags } from './mount-flags.js';
export { removeAnonymousVolumes, resolveMounts } from './resolve.js';
export { specMounts } from './spec.js';
