// `rm`: a running container needs -f (then it is killed at once, as podman's rm -f); -v also
// removes its anonymous volumes. Working containers (tsbuild from) go the same way, their rootfs
// unmounted first.
import { TsbuildError } from '../errors.js';
import type { Stores } from '../store/root.js';
import { removeContainer } from './cleanup.js';
import { readRecord } from './records.js';
import { stopContainer } from './stop.js';
import type { ContainerRecord } from './types.js';

export async function removeContainerRecord(stores: Stores, record: ContainerRecord, options: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
  let current = record;
  if (current.state === 'running') {
    if (!options.force) {
      throw new TsbuildError('INVALID_ARGUMENT', `container "${current.name}" is running`, {
        exitCode: 125,
        hint: `stop it first ("tsbuild stop ${current.name}") or remove it with "tsbuild rm -f"`,
      });
    }
    current = await stopContainer(stores, current, 0);
    // --rm containers are gone once stopped.
    if (!(await readRecord(stores, current.id))) return;
  }
  await removeContainer(stores, current, { volumes: options.volumes ?? false });
}
