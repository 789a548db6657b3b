// Where tsbuild is installed: the package root holding bin/, dist/ and node_modules/, for the files
// it runs beside its code (the launcher, the monitor binary, worker scripts, pino).
import { fileURLToPath } from 'node:url';

let root: string | undefined;

export function installRoot(): string {
  // dist/util/install-root.js (or src/util/install-root.ts under vitest) -> the package root.
  return (root ??= fileURLToPath(new URL('../..', import.meta.url)));
}

/**
 * For the start-up snapshot (src/cli/snapshot-entry.ts), where the bundled modules have no URL of
 * their own: the root is known from the launcher's path instead.
 */
export function setInstallRoot(dir: string): void {
  root = dir;
}
