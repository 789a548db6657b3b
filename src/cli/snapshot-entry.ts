// The entry of tsbuild's start-up snapshot. scripts/build-snapshot.mjs bundles this module and
// everything the CLI can load into one script and has node run it with --build-snapshot: the heap
// that results (every module's code read and parsed, the start-up modules evaluated) is saved in
// dist/tsbuild.blob, and bin/tsbuild starts node from that blob when it was made by the same node
// binary and is newer than the compiled sources. A command then skips finding, reading and
// compiling some 200 module files.
//
// Evaluated while the snapshot is built: main's static imports, and the yargs and command modules
// that warm-up.ts runs (the snapshot keeps the bytecode of what ran); the bundler turns the CLI's
// other lazy imports into functions that evaluate them on first call, when a command runs.
// Evaluating modules up front without running them measured no faster (a bigger heap to
// deserialize), and node 20 cannot put every built-in in a snapshot (node:tls, node:http). What is
// evaluated here must not capture the moment of the build (environment, pid, terminal, time). import() of anything the
// bundle does not hold fails in code started from a snapshot, so built-ins are imported statically.
// Built-ins that node 20's snapshot builder supports and that most commands load (the store hashes
// with crypto; undici asserts): evaluated here, they are deserialized with the heap instead of
// compiled at every start-up (~7 ms together, per CPU profile of a push). The other built-ins that
// commands load (net, tls, http, http2, child_process, zlib) are not supported in a snapshot.
import assert from 'node:assert';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { startupSnapshot } from 'node:v8';
import { setInstallRoot } from '../util/install-root.js';
import { main } from './main.js';
import { warmUp } from './warm-up.js';

if (startupSnapshot.isBuildingSnapshot()) {
  // Used, so that the bundler keeps the two imports above.
  void [assert, createHash];
  // The event loop runs dry before the heap is saved: the warm-up finishes first (warm-up.ts).
  warmUp().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
  startupSnapshot.setDeserializeMainFunction(() => {
    // The launcher passes its own resolved path first: <root>/bin/tsbuild.
    const launcher = process.argv[1]!;
    setInstallRoot(path.resolve(path.dirname(launcher), '..'));
    void main(process.argv.slice(2));
  });
}
