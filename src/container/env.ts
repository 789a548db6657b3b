// A container's environment: the image's (or the container's) variables with NAME=value overrides
// from -e/--env-file, as docker and podman merge them. Shared by create, exec and buildah's wc run.
import { DEFAULT_PATH } from '../oci/types.js';

/** Later entries win; NAME alone passes our value (dropped when we have none); PATH defaults. */
export function mergeEnv(base: readonly string[], overrides: readonly string[]): string[] {
  const env = new Map<string, string>();
  for (const entry of [...base, ...overrides]) {
    const eq = entry.indexOf('=');
    if (eq < 0) {
      // -e NAME passes the variable from our environment, as docker/podman do.
      const value = process.env[entry];
      if (value !== undefined) env.set(entry, value);
    } else {
      env.set(entry.slice(0, eq), entry.slice(eq + 1));
    }
  }
  if (!env.has('PATH')) env.set('PATH', DEFAULT_PATH);
  return [...env].map(([k, v]) => `${k}=${v}`);
}
