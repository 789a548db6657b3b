// Writes a deterministic build context: N files in 100 directories, sizes spread around an average,
// contents from a seeded PRNG (same bytes every run, incompressible like real binaries).
// Usage: node bench/make-context.mjs DIR [files=20000] [totalMB=500]
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const [dir, filesArg = '20000', mbArg = '500'] = process.argv.slice(2);
if (!dir) {
  console.error('usage: node bench/make-context.mjs DIR [files] [totalMB]');
  process.exit(2);
}
const files = Number(filesArg);
const average = Math.floor((Number(mbArg) * 1024 * 1024) / files);
let state = 0x9e3779b9;
function next() {
  // xorshift32: fast and good enough for filler bytes.
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return state >>> 0;
}
// A multiple of 4 bytes, so the fill loop below never writes past the end.
const pool = Buffer.alloc(Math.ceil((average * 2 + 4096) / 4) * 4);
for (let i = 0; i < pool.length; i += 4) pool.writeUInt32LE(next(), i);
for (let i = 0; i < files; i++) {
  const sub = path.join(dir, `d${String(i % 100).padStart(3, '0')}`);
  if (i < 100) mkdirSync(sub, { recursive: true });
  const size = Math.floor(average / 2 + (next() % average));
  const offset = next() % 4096;
  writeFileSync(path.join(sub, `f${i}.bin`), pool.subarray(offset, offset + size));
}
