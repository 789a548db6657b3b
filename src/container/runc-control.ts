// The few runc calls the lifecycle makes outside the monitor: signals (stop, kill) and the forced
// delete of a container whose monitor is gone. A container that does not exist is not an error.
import { TsbuildError } from '../errors.js';
import type { Stores } from '../store/root.js';
import { execFile } from '../util/exec.js';

const GONE = /does not exist|not found|not running|container not running|process already finished/i;

/** `runc kill ID SIGNAL`; false when the container is not there (or not running) any more. */
export async function runcKill(stores: Stores, id: string, signal: string, all = false): Promise<boolean> {
  const argv = ['runc', '--root', stores.layout.runcState, 'kill', ...(all ? ['--all'] : []), id, signal.replace(/^SIG/, '')];
  const result = await execFile(argv, { allowExitCodes: [1] });
  if (result.exitCode === 0) return true;
  if (GONE.test(result.stderr)) return false;
  throw new TsbuildError('RUNTIME', `cannot signal container ${id.slice(0, 12)}: ${result.stderr.split('\n').pop() ?? ''}`, { exitCode: 125 });
}

export async function runcDeleteForce(stores: Stores, id: string): Promise<void> {
  await execFile(['runc', '--root', stores.layout.runcState, 'delete', '--force', id], { allowExitCodes: [1] }).catch(() => undefined);
}
