// Builds tsbuild's start-up snapshot (see src/cli/snapshot-entry.ts): the compiled CLI (dist/, from
// tsc) bundled into one script with esbuild, run by this same node with --build-snapshot into
// dist/tsbuild.blob. dist/tsbuild.blob.key names the node binary the blob belongs to, in the form
// bin/tsbuild compares (`stat -L -c %i:%Z:%s` of node: inode, ctime, size): a blob is only valid
// for the exact binary that made it, and an upgraded node must not be handed it.
// Run by `npm run build` after tsc; `node scripts/build-snapshot.mjs` alone rebuilds it.
import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const bundle = path.join(dist, 'tsbuild-snapshot.cjs');
const blob = path.join(dist, 'tsbuild.blob');
const key = `${blob}.key`;

// A stale blob must never outlive a failed rebuild: the launcher would run old code.
rmSync(blob, { force: true });
rmSync(key, { force: true });

const result = await build({
  entryPoints: [path.join(dist, 'cli', 'snapshot-entry.js')],
  outfile: bundle,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // Whitespace, comments and syntax minified: the blob shrinks from 10.5 to 8.9 MB and main() runs
  // ~18 ms sooner (deserializing the heap is most of a start-up). Identifiers are kept, so stack
  // traces (--log-level debug) still name functions.
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: false,
  logLevel: 'silent',
});
// import.meta has no meaning in the bundle. The one use allowed is util/install-root.ts, whose
// root the snapshot's main function sets from the launcher's path before anything asks.
const unexpected = result.warnings.filter((w) => !(w.id === 'empty-import-meta' && w.location?.file.endsWith(path.join('util', 'install-root.js'))));
if (unexpected.length > 0) {
  for (const w of unexpected) console.error(`${w.location?.file ?? ''}:${w.location?.line ?? ''}: ${w.text}`);
  process.exit(1);
}

// Code started from a snapshot has no import(): one left in the bundle (of a module it does not
// hold, such as a built-in) would fail when reached. Built-ins are imported statically instead.
// (esbuild writes string literals with double quotes; JSDoc type imports in comments keep single ones.)
const dynamic = [...readFileSync(bundle, 'utf8').matchAll(/\bimport\(("[^"]*")\)/g)].map((m) => m[1]);
if (dynamic.length > 0) {
  console.error(`build-snapshot: the bundle still imports ${[...new Set(dynamic)].join(', ')} dynamically; import them statically`);
  rmSync(bundle, { force: true });
  process.exit(1);
}

const temp = `${blob}.tmp`;
try {
  execFileSync(process.execPath, ['--snapshot-blob', temp, '--build-snapshot', bundle], { stdio: 'inherit', cwd: root });
  renameSync(temp, blob);
} finally {
  rmSync(temp, { force: true });
  rmSync(bundle, { force: true });
}
const node = statSync(realpathSync(process.execPath));
writeFileSync(key, `${node.ino}:${Math.floor(node.ctimeMs / 1000)}:${node.size}\n`);
console.log(`start-up snapshot: ${path.relative(root, blob)} (${(statSync(blob).size / 1e6).toFixed(1)} MB)`);
