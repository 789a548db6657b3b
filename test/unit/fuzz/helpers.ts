// Shared pieces of the property-based tests: the one property every parser must keep (it returns,
// or throws a TsbuildError; never a TypeError, RangeError or anything else uncaught), and the run
// counts, scaled by TSBUILD_FUZZ_RUNS for a longer hunt.
import { isTsbuildError } from '../../../src/errors.js';

/** Runs per property; TSBUILD_FUZZ_RUNS overrides (e.g. 100000 for a long hunt). */
export const RUNS = Number(process.env.TSBUILD_FUZZ_RUNS ?? 3000);

/** Calls fn; a TsbuildError is an accepted outcome (bad input, reported well), anything else is rethrown. */
export function onlyTsbuildErrors<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (isTsbuildError(err)) return undefined;
    throw err;
  }
}

export async function onlyTsbuildErrorsAsync<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (isTsbuildError(err)) return undefined;
    throw err;
  }
}
