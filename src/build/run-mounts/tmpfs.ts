// RUN --mount=type=tmpfs: an empty tmpfs at the target, gone with the container.
import type { RunMount } from './parse.js';
import type { PreparedMount } from './types.js';

export function tmpfsMount(m: RunMount): PreparedMount {
  const options = ['nosuid', 'nodev', ...(m.size === undefined ? [] : [`size=${m.size}`])];
  return { mounts: [{ destination: m.target!, type: 'tmpfs', source: 'tmpfs', options }] };
}
