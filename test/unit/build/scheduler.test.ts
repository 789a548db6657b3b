import { describe, expect, it } from 'vitest';
import { runGraph } from '../../../src/build/scheduler.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('runGraph', () => {
  it('starts a node only after the nodes it depends on, and at most `jobs` at once', async () => {
    const events: string[] = [];
    let running = 0;
    let peak = 0;
    const nodes = [
      { id: 0, dependsOn: [] },
      { id: 1, dependsOn: [] },
      { id: 2, dependsOn: [] },
      { id: 3, dependsOn: [0, 1] },
    ];
    await runGraph(nodes, { jobs: 2 }, async (n) => {
      running++;
      peak = Math.max(peak, running);
      events.push(`start ${n.id}`);
      await sleep(20);
      events.push(`end ${n.id}`);
      running--;
    });
    expect(peak).toBe(2);
    expect(events.indexOf('start 3')).toBeGreaterThan(Math.max(events.indexOf('end 0'), events.indexOf('end 1')));
    expect(events.filter((e) => e.startsWith('end'))).toHaveLength(4);
  });

  it('with jobs 1 runs the nodes one after another in order', async () => {
    const order: number[] = [];
    await runGraph([{ id: 0, dependsOn: [] }, { id: 1, dependsOn: [] }, { id: 2, dependsOn: [0] }], { jobs: 1 }, async (n) => {
      order.push(n.id);
      await sleep(1);
    });
    expect(order).toEqual([0, 1, 2]);
  });

  it('aborts the running nodes on the first failure, waits for them, starts nothing more and throws that failure', async () => {
    const seen: string[] = [];
    const nodes = [{ id: 0, dependsOn: [] }, { id: 1, dependsOn: [] }, { id: 2, dependsOn: [0] }];
    const run = runGraph(nodes, { jobs: 2 }, async (n, signal) => {
      if (n.id === 1) {
        await sleep(5);
        throw new Error('node 1 failed');
      }
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      await sleep(10); // cleanup after the abort
      seen.push(`node ${n.id} cleaned up`);
      throw new Error('aborted');
    });
    await expect(run).rejects.toThrow('node 1 failed');
    expect(seen).toEqual(['node 0 cleaned up']);
  });

  it('passes the caller\'s abort on to the nodes', async () => {
    const controller = new AbortController();
    const run = runGraph([{ id: 0, dependsOn: [] }], { jobs: 1, signal: controller.signal }, (_n, signal) =>
      new Promise<void>((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('interrupted')), { once: true })),
    );
    controller.abort();
    await expect(run).rejects.toThrow('interrupted');
  });
});
