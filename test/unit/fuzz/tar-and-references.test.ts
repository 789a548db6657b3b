// Property-based tests of the tar reader, layer extraction and image reference parsing: damaged or
// hostile input gives a TsbuildError, never another exception, and extraction never writes outside
// its root (a canary tree around the root must stay as it was).
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { applyTar } from '../../../src/archive/index.js';
import { END_OF_ARCHIVE, encodeHeader, padding, type TarHeader } from '../../../src/archive/tar-format.js';
import { TarReader } from '../../../src/archive/tar-reader.js';
import { normalizeImageName, parseImageName } from '../../../src/image/names.js';
import { isShortName, parseReference, splitReference } from '../../../src/remote/reference.js';
import { cleanupTempDirs, tempDir } from '../helpers-archive.js';
import { RUNS, onlyTsbuildErrors, onlyTsbuildErrorsAsync } from './helpers.js';

afterAll(cleanupTempDirs);

function tarOf(entries: Array<TarHeader & { data?: Buffer }>): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(encodeHeader(e));
    if (e.data) parts.push(e.data, padding(e.data.length));
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

const base = { mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 1_700_000_000 };
const file = (name: string, text: string) => ({ ...base, name, type: 'file' as const, size: Buffer.byteLength(text), data: Buffer.from(text) });
/** A valid layer with the shapes the reader handles: dirs, files, a PAX long name, xattrs, links, a whiteout. */
const VALID = tarOf([
  { ...base, name: 'etc/', type: 'dir', mode: 0o755 },
  file('etc/hosts', '127.0.0.1 localhost\n'),
  file(`deep/${'n'.repeat(150)}/file`, 'long name\n'),
  { ...file('attrs', 'x'), xattrs: new Map([['user.note', Buffer.from([0, 1, 2, 255])]]) },
  { ...base, name: 'sym', type: 'symlink', linkname: 'etc/hosts' },
  { ...base, name: 'hard', type: 'link', linkname: 'etc/hosts' },
  file('.wh.gone', ''),
  file('big', 'B'.repeat(3000)),
]);

/** The valid tar with bytes overwritten, cut short, or spliced with pieces of itself. */
const damaged = fc.oneof(
  fc.array(fc.tuple(fc.nat({ max: VALID.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 12 }).map((edits) => {
    const b = Buffer.from(VALID);
    for (const [at, byte] of edits) b[at] = byte;
    return b;
  }),
  fc.nat({ max: VALID.length }).map((n) => VALID.subarray(0, n)),
  fc.tuple(fc.nat({ max: VALID.length }), fc.nat({ max: VALID.length })).map(([a, b]) => Buffer.concat([VALID.subarray(0, Math.min(a, b)), VALID.subarray(Math.max(a, b))])),
  fc.uint8Array({ maxLength: 3000 }).map((u) => Buffer.from(u)),
);

/** Hostile names and link targets in otherwise well-formed headers. */
const hostileName = fc.oneof(
  fc.constantFrom('/etc/passwd', '../escape', 'a/../../escape', './../escape', '..', '.', '', '/', 'a//b', 'a/./b', '.wh...', '.wh..wh..opq', 'x/.wh...', '\u0000', 'a\nb'),
  fc.array(fc.constantFrom('..', '.', 'a', 'b', '/', '.wh.', 'etc', 'sym', 'hard', '\u00e9'), { maxLength: 8 }).map((p) => p.join('/')),
);
const hostileTar = fc
  .array(
    fc.tuple(fc.constantFrom('file', 'dir', 'symlink', 'link', 'fifo', 'char'), hostileName, hostileName).map(([type, name, linkname]) =>
      type === 'file' ? file(name, 'payload\n') : { ...base, name, type: type as TarHeader['type'], linkname, devmajor: 1, devminor: 3 },
    ),
    { minLength: 1, maxLength: 8 },
  )
  .map((entries) => {
    try {
      return tarOf(entries);
    } catch {
      return undefined; // a name the encoder itself refuses (e.g. NUL): nothing to feed
    }
  });

async function readAll(buf: Buffer): Promise<number> {
  const reader = new TarReader(Readable.from([buf]), 'fuzzed tar');
  let n = 0;
  try {
    for (let e = await reader.next(); e; e = await reader.next()) {
      for await (const _ of reader.data()) n += 0;
      n++;
    }
  } finally {
    await reader.close();
  }
  return n;
}

describe('tar reader (fast-check)', () => {
  it('reads the valid archive whole', async () => {
    expect(await readAll(VALID)).toBe(8);
  });

  it(`reads damaged archives to the end or throws a TsbuildError (${RUNS} inputs)`, async () => {
    await fc.assert(fc.asyncProperty(damaged, async (buf) => void (await onlyTsbuildErrorsAsync(() => readAll(buf)))), { numRuns: RUNS });
  });
});

describe('layer extraction (fast-check)', () => {
  // A canary tree beside and above the root: extraction must leave it exactly as it was.
  const outer = tempDir();
  const canary = path.join(outer, 'canary');
  mkdirSync(path.join(canary, 'etc'), { recursive: true });
  writeFileSync(path.join(canary, 'etc', 'passwd'), 'canary\n');
  writeFileSync(path.join(outer, 'escape'), 'canary\n');
  const snapshot = (): string[] => readdirSync(outer, { recursive: true }).map(String).sort().concat(readFileSync(path.join(outer, 'escape'), 'utf8'), readFileSync(path.join(canary, 'etc', 'passwd'), 'utf8'));
  const before = snapshot();
  let run = 0;

  const extract = async (buf: Buffer | undefined): Promise<void> => {
    if (buf === undefined) return;
    const root = path.join(outer, `root-${run++}`);
    mkdirSync(root);
    try {
      await onlyTsbuildErrorsAsync(() => applyTar(Readable.from([buf]), root, { whiteouts: 'overlay', what: 'fuzzed layer' }));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
    expect(snapshot()).toEqual(before);
  };

  it(`extracts hostile names and links inside the root or refuses them with a TsbuildError (${Math.ceil(RUNS / 6)} inputs)`, async () => {
    await fc.assert(fc.asyncProperty(hostileTar, extract), { numRuns: Math.ceil(RUNS / 6) });
  });

  it(`extracts damaged layers or refuses them with a TsbuildError (${Math.ceil(RUNS / 6)} inputs)`, async () => {
    await fc.assert(fc.asyncProperty(damaged, extract), { numRuns: Math.ceil(RUNS / 6) });
  });
});

describe('image references (fast-check)', () => {
  const reference = fc.oneof(
    fc.array(fc.constantFrom('docker.io', 'localhost', 'localhost:5000', '127.0.0.1:5000', '[::1]:5000', 'example.com', '/', ':', '@', 'sha256:', 'a'.repeat(64), 'library', 'busybox', 'Busy', 'latest', '_', '-', '.', '__', '..', 'x'.repeat(200), '0', ' ', '\u00e9'), { maxLength: 10 }).map((p) => p.join('')),
    fc.string({ maxLength: 80 }),
  );
  it(`parseReference, splitReference, parseImageName and normalizeImageName return or throw a TsbuildError (${RUNS} inputs)`, () => {
    fc.assert(
      fc.property(reference, (text) => {
        onlyTsbuildErrors(() => splitReference(text));
        onlyTsbuildErrors(() => isShortName(text));
        const ref = onlyTsbuildErrors(() => parseReference(text));
        if (ref !== undefined) expect(typeof ref.registry).toBe('string');
        onlyTsbuildErrors(() => parseImageName(text));
        onlyTsbuildErrors(() => normalizeImageName(text));
      }),
      { numRuns: RUNS },
    );
  });
});
