// Runs the stages of a build as their dependencies allow: a stage starts once every stage it reads
// is done, at most `jobs` at a time, in Containerfile order among the ready ones. The first failure
// aborts the others through their AbortSignal and is what the build fails with, but only after every
// started stage has finished its own cleanup (nothing may stay mounted when build() returns).

export interface GraphNode {
  id: number;
  dependsOn: readonly number[];
}

export async function runGraph<T extends GraphNode>(
  nodes: readonly T[],
  options: { jobs: number; signal?: AbortSignal },
  run: (node: T, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(options.signal?.reason);
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  const done = new Set<number>();
  const waiting = [...nodes];
  const running = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;

  try {
    while (waiting.length > 0 || running.size > 0) {
      while (!failure && !controller.signal.aborted && running.size < options.jobs) {
        const i = waiting.findIndex((n) => n.dependsOn.every((d) => done.has(d) || !nodes.some((m) => m.id === d)));
        if (i < 0) break;
        const [node] = waiting.splice(i, 1) as [T];
        const task: Promise<void> = run(node, controller.signal).then(
          () => {
            done.add(node.id);
          },
          (error: unknown) => {
            failure ??= { error };
            controller.abort(error);
          },
        );
        running.add(task);
        void task.finally(() => running.delete(task));
      }
      if (running.size === 0) break; // failed or aborted: nothing left that can start
      await Promise.race(running);
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  if (failure) throw failure.error;
  if (controller.signal.aborted) throw controller.signal.reason;
}
