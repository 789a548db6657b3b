// The file-data part of a COPY: many small copies, each a handful of syscalls (copy, chown, chmod,
// utimes). Done one promise per syscall through libuv's pool, the hand-offs cost more than the
// copying; done synchronously on the main thread, the kernel's share (file creation dominates on
// ext4) gets only one core. So big copies are split among worker threads that each run the
// syscalls synchronously, and small ones run synchronously right here.
import { availableParallelism } from 'node:os';
import { chmodSync, constants as fsConstants, copyFileSync, existsSync, lchownSync, lstatSync, unlinkSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { TsbuildError, errnoCode } from '../../errors.js';
import { installRoot } from '../../util/install-root.js';
import { settleAll } from '../../util/settle.js';
import { yieldEvery } from '../../util/yield.js';

export interface CopyJob {
  source: string;
  target: string;
  /** Set with lchown; undefined keeps the new file's owner (the process's). */
  owner?: { uid: number; gid: number };
  /** Set with chmod after the chown; undefined keeps the mode copyFile gave (the source's). */
  mode?: number;
  /** Seconds since the epoch (fractional). */
  atime: number;
  mtime: number;
}

/** What a failed job reports (also across the worker boundary, where errors lose their class). */
export interface CopyFailure {
  index: number;
  message: string;
  /** The target was a directory, which a file may not replace. */
  directoryInTheWay?: boolean;
}

/** Below this many files, starting workers (~20 ms each) costs more than it saves. */
const WORKER_THRESHOLD = 400;
/** Jobs a worker claims at a time: consecutive files mostly share a directory, so workers rarely contend for one. */
export const CLAIM = 32;

// The compiled worker script; absent before the first build (the sources run under vitest), when
// copies are done in-process.
function workerFile(): string {
  return path.join(installRoot(), 'dist', 'build', 'context', 'copy-files-worker.js');
}

/** Copies every job's file; rejects with a TsbuildError naming the file (`what` is the instruction's place). */
export async function copyFiles(jobs: readonly CopyJob[], what: string): Promise<void> {
  const failure = jobs.length >= WORKER_THRESHOLD && existsSync(workerFile()) ? await inWorkers(jobs) : await inProcess(jobs);
  if (failure === undefined) return;
  const job = jobs[failure.index]!;
  if (failure.directoryInTheWay) throw directoryInTheWay(what, job.target);
  throw new TsbuildError('IO', `${what}: cannot write ${job.target} from ${job.source}: ${failure.message}`);
}

/** One job, synchronously. EXCL: never follow or overwrite something already at the target (a symlink could point anywhere). */
export function runCopyJob(job: CopyJob): void {
  const flags = fsConstants.COPYFILE_FICLONE | fsConstants.COPYFILE_EXCL;
  try {
    copyFileSync(job.source, job.target, flags);
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw err;
    if (lstatSync(job.target).isDirectory()) throw new DirectoryInTheWay();
    unlinkSync(job.target);
    copyFileSync(job.source, job.target, flags);
  }
  if (job.owner) lchownSync(job.target, job.owner.uid, job.owner.gid);
  if (job.mode !== undefined) chmodSync(job.target, job.mode);
  utimesSync(job.target, job.atime, job.mtime);
}

export class DirectoryInTheWay extends Error {}

/** The error of a copy that would put a file where the layer already has a directory. */
export function directoryInTheWay(what: string, target: string): TsbuildError {
  return new TsbuildError('INVALID_ARGUMENT', `${what}: cannot replace the directory ${target} with a file`);
}

export function describeFailure(index: number, err: unknown): CopyFailure {
  return { index, message: (err as Error).message, directoryInTheWay: err instanceof DirectoryInTheWay };
}

async function inProcess(jobs: readonly CopyJob[]): Promise<CopyFailure | undefined> {
  const pause = yieldEvery(200);
  for (const [index, job] of jobs.entries()) {
    try {
      runCopyJob(job);
    } catch (err) {
      return describeFailure(index, err);
    }
    await pause();
  }
  return undefined;
}

/**
 * Workers share one counter of claimed jobs (and a stop flag) in shared memory, so a worker that
 * got small files takes more; after the first failure the others stop at their next claim.
 */
async function inWorkers(jobs: readonly CopyJob[]): Promise<CopyFailure | undefined> {
  const shared = new Int32Array(new SharedArrayBuffer(8)); // [next job, stop]
  const count = Math.min(availableParallelism(), 4, Math.ceil(jobs.length / CLAIM));
  const failures: CopyFailure[] = [];
  // Settled, not raced: a worker that crashed stops the others, and nothing is still writing into
  // the layer once the caller sees the error (and removes the layer).
  try {
    await settleAll(
      Array.from({ length: count }, () => {
        // No execArgv: the parent's (--snapshot-blob under the launcher) are not a worker's to take.
        const worker = new Worker(workerFile(), { workerData: { jobs, shared }, execArgv: [] });
        return new Promise<void>((resolve, reject) => {
          worker.once('message', (failure: CopyFailure | null) => {
            if (failure) failures.push(failure);
          });
          worker.once('error', (err) => {
            Atomics.store(shared, 1, 1);
            reject(err);
          });
          worker.once('exit', () => resolve());
        });
      }),
    );
  } catch (err) {
    throw new TsbuildError('INTERNAL', `a copy worker failed: ${(err as Error).message}`, { cause: err });
  }
  return failures.sort((a, b) => a.index - b.index)[0];
}
