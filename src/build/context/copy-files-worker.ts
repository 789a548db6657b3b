// Worker side of copyFiles (copy-files.ts): claims CLAIM jobs at a time from the shared counter and
// runs them synchronously; posts the first failure (or null) and ends.
import { parentPort, workerData } from 'node:worker_threads';
import { CLAIM, describeFailure, runCopyJob, type CopyFailure, type CopyJob } from './copy-files.js';

const { jobs, shared } = workerData as { jobs: CopyJob[]; shared: Int32Array };
let failure: CopyFailure | null = null;
for (;;) {
  if (Atomics.load(shared, 1) !== 0) break;
  const start = Atomics.add(shared, 0, CLAIM);
  if (start >= jobs.length) break;
  for (let index = start; index < Math.min(start + CLAIM, jobs.length) && failure === null; index++) {
    try {
      runCopyJob(jobs[index]!);
    } catch (err) {
      failure = describeFailure(index, err);
      Atomics.store(shared, 1, 1);
    }
  }
  if (failure !== null) break;
}
parentPort!.postMessage(failure);
