// Sizes as users write them for podman and docker (docker/go-units RAMInBytes): a number with an
// optional binary unit, k, m, g, t or p, optionally followed by b or ib, any case ("64m", "1.5GiB",
// "512kb", "1048576"). One reader for every flag and variable that takes a size; each caller words
// its own error.

const POWERS = ' kmgtp';

/** Bytes, or undefined when `text` is not a size. */
export function parseByteSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$/i.exec(text.trim());
  if (!m) return undefined;
  return Math.floor(Number(m[1]) * 1024 ** POWERS.indexOf((m[2] || ' ').toLowerCase()));
}
