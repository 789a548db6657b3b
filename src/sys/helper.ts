// Mounts, unmounts and network namespaces, made by dist/tsbuild-sys (src/sys/helper.c): one helper
// process per tsbuild process, started on first use and asked over a pipe. Spawning mount, umount
// or `ip netns` for each of these forks the whole Node process (3-7 ms of our own thread each on
// the 2-core test machine, plus the tool's start-up); a request to the helper costs it one fork of
// a 1 MB process. The helper runs requests side by side and exits when we do (its stdin closes).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { TsbuildError } from '../errors.js';
import { installRoot } from '../util/install-root.js';

interface Pending {
  resolve: () => void;
  reject: (err: Error) => void;
  what: string;
}

let helper: { child: ChildProcess; pending: Map<number, Pending> } | undefined;
let nextId = 1;

/** The helper binary, dist/tsbuild-sys (scripts/build-native.sh), also when the sources run under vitest. */
export function sysHelperBinary(): string {
  return path.join(installRoot(), 'dist', 'tsbuild-sys');
}

function start(): NonNullable<typeof helper> {
  const binary = sysHelperBinary();
  if (!existsSync(binary)) throw new TsbuildError('RUNTIME', `the system helper ${binary} does not exist`, { hint: 'run npm run build' });
  const child = spawn(binary, [], { stdio: ['pipe', 'pipe', 'inherit'] });
  const pending = new Map<number, Pending>();
  const current = { child, pending };
  let buffered = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (text: string) => {
    buffered += text;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      const space = line.indexOf(' ');
      const id = Number(line.slice(0, space));
      const request = pending.get(id);
      if (!request) continue;
      pending.delete(id);
      const answer = line.slice(space + 1);
      if (answer === 'ok') request.resolve();
      else request.reject(new TsbuildError('RUNTIME', answer.replace(/^error /, '')));
    }
    holdWhilePending(current);
  });
  const gone = (err?: Error): void => {
    if (helper === current) helper = undefined;
    for (const request of pending.values()) {
      request.reject(new TsbuildError('RUNTIME', `${request.what}: the system helper ${binary} ${err ? `failed: ${err.message}` : 'exited'}`, { cause: err }));
    }
    pending.clear();
  };
  child.once('error', gone);
  child.once('exit', () => gone());
  // A write after the helper died is reported through 'exit' above, not as an unhandled error.
  child.stdin!.on('error', () => undefined);
  return current;
}

/** Our process may exit while the helper idles, not while it owes an answer. */
function holdWhilePending(h: NonNullable<typeof helper>): void {
  const streams = [h.child.stdout as unknown as { ref(): void; unref(): void }, h.child.stdin as unknown as { ref(): void; unref(): void }];
  if (h.pending.size > 0) {
    h.child.ref();
    for (const s of streams) s.ref();
  } else {
    h.child.unref();
    for (const s of streams) s.unref();
  }
}

function request(what: string, op: string, ...args: string[]): Promise<void> {
  for (const arg of args) {
    if (arg === '' || arg.includes('\0')) throw new TsbuildError('INTERNAL', `${what}: an empty argument or one with a NUL byte`);
  }
  const h = (helper ??= start());
  const id = nextId++;
  return new Promise<void>((resolve, reject) => {
    h.pending.set(id, { resolve, reject, what });
    holdWhilePending(h);
    h.child.stdin!.write(`${[String(id), op, ...args].join('\0')}\0\0`);
  });
}

/** mount -t overlay from `cwd` (relative lowerdir paths resolve against it). */
export function mountOverlay(cwd: string, target: string, options: string): Promise<void> {
  return request(`mount overlay at ${target}`, 'mount-overlay', cwd, target, options);
}

/** umount; when the mount is busy, detached instead (umount -l) so nothing stays visible. */
export function unmount(target: string): Promise<void> {
  return request(`unmount ${target}`, 'umount', target);
}

/** umount -l: detached at once, whoever still uses it. */
export function detachMount(target: string): Promise<void> {
  return request(`unmount ${target}`, 'detach', target);
}

/** `ip netns add NAME` with the namespace's loopback up: a new network namespace bound at DIR/NAME. */
export function addNetns(dir: string, name: string): Promise<void> {
  return request(`create network namespace ${name}`, 'netns-add', dir, name);
}

/** mkfifo -m 0600 (Node has no mkfifo). */
export function makeFifo(file: string): Promise<void> {
  return request(`create the FIFO ${file}`, 'mkfifo', file);
}

/** The argv of `tsbuild-sys wait-fifo FILE`: waits for a "go" line on the FIFO (container/start-gate.ts). */
export function waitFifoCommand(file: string): string[] {
  return [sysHelperBinary(), 'wait-fifo', file];
}

/** `ip netns delete NAME`; a missing one is fine. */
export function deleteNetns(dir: string, name: string): Promise<void> {
  return request(`delete network namespace ${name}`, 'netns-delete', dir, name);
}
