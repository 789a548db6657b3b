// Holding a container's start until its network is up. runc's own start-up (its Go start, the
// container's namespaces and mounts: ~45 ms on the 2-core test machine) does not need the CNI
// interfaces, only the namespace they go into; so the monitor starts runc as soon as the namespace
// exists, and a createRuntime hook (`tsbuild-sys wait-fifo`, run by runc on the host after the
// container's mounts, before its process starts) waits on a FIFO while the CNI ADD (~25 ms) runs
// beside it. open() lets the start go on; cancel(), or this process dying, fails the hook and so
// the start, and nothing runs without its network.
//
// The FIFO is held open read-write from creation until dispose(): a line written before the hook
// opens it stays in the pipe for it, and the hook sees end-of-file only when we are gone. dispose()
// must wait until the monitor has reported (the hook has read by then). The FIFO is then removed,
// so a restart by the restart policy, which runs the same bundle, passes the hook at once.
import { closeSync, constants, openSync, rmSync, writeSync } from 'node:fs';
import type { SpecHook } from '../runtime/spec.js';
import * as sys from '../sys/helper.js';

export interface StartGate {
  /** For the runtime spec's createRuntime hooks. */
  hook: SpecHook;
  /** The network is up: the container may start. */
  open(): void;
  /** The start is off (the network failed): the hook fails and runc gives up. */
  cancel(): void;
  /** Once the monitor has reported, or failed: closes and removes the FIFO. */
  dispose(): void;
}

/** Longer than any CNI chain should take; runc fails the start when the hook outlives it. */
const HOOK_TIMEOUT_SECONDS = 600;

export async function createStartGate(file: string): Promise<StartGate> {
  rmSync(file, { force: true });
  await sys.makeFifo(file);
  // O_RDWR: a FIFO opened so never waits for the other end (Linux), and keeps the pipe alive.
  // (Close-on-exec, as every fd Node opens: runc and the monitor do not inherit it.)
  const fd = openSync(file, constants.O_RDWR);
  let decided = false;
  let closed = false;
  const say = (line: string): void => {
    if (decided || closed) return;
    decided = true;
    writeSync(fd, `${line}\n`);
  };
  const [path, ...args] = sys.waitFifoCommand(file);
  return {
    hook: { path: path!, args: ['tsbuild-sys', ...args], timeout: HOOK_TIMEOUT_SECONDS },
    open: () => say('go'),
    cancel: () => say('stop'),
    dispose() {
      if (closed) return;
      closed = true;
      closeSync(fd);
      rmSync(file, { force: true });
    },
  };
}
