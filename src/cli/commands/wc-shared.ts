// What the buildah-style commands (from, copy, add, config, commit, mount, umount, containers and
// the `wc` group) share: the help text that explains the naming, and container/flag plumbing.

/** Shown under every buildah-style command's --help. */
export const WC_EPILOGUE = [
  'Working containers (buildah\'s model): "tsbuild wc VERB" is buildah\'s "buildah VERB", so a buildah',
  'script ports by replacing "buildah " with "tsbuild wc ". from, copy, add, config, containers, commit,',
  'mount and umount also work without "wc"; "tsbuild run IMAGE" stays podman\'s, buildah\'s run is "tsbuild wc run".',
].join('\n');

/** yargs "array" options come as string[] or (once) a string. */
export function strings(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}
