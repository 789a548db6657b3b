// Long synchronous loops (file walks, hashing many small files) give the event loop a turn now and
// then, so a signal handler, a progress line or another stage's I/O is not held up behind them.
import { setImmediate } from 'node:timers/promises';

/** A function to await once per unit of work; every `units` calls it lets the event loop run. */
export function yieldEvery(units: number): (weight?: number) => Promise<void> | undefined {
  let done = 0;
  return (weight = 1) => {
    done += weight;
    if (done < units) return undefined;
    done = 0;
    return setImmediate();
  };
}
