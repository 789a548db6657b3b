// The benchmark runner of issue 6: builds, pushes, pulls and runs the issue's workloads with tsbuild
// and, where installed, with the reference tools (buildah, skopeo, runc) in one run, and prints one
// table of medians, ratios, targets and tsbuild's peak RSS; writes the same as JSON. It is a report:
// the exit code is 0 even when targets are missed, and 1 only when a workload itself failed.
// Usage: sudo npm run bench [-- --quick] [--runs N] [--json FILE]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, writeFileSync, copyFileSync, appendFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(repo);

// ---- arguments
const args = process.argv.slice(2);
const opts = { quick: false, runs: undefined, only: undefined, json: path.join(repo, 'bench', 'results.json') };
const ROW_GROUPS = ['small', 'context', 'multistage', 'registry', 'run'];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--quick') opts.quick = true;
  else if (a === '--runs') opts.runs = Number(args[++i]);
  else if (a.startsWith('--runs=')) opts.runs = Number(a.slice(7));
  else if (a === '--only' || a.startsWith('--only=')) opts.only = (a === '--only' ? args[++i] ?? '' : a.slice(7)).split(',').filter(Boolean);
  else if (a === '--json') opts.json = path.resolve(args[++i] ?? '');
  else if (a.startsWith('--json=')) opts.json = path.resolve(a.slice(7));
  else if (a === '-h' || a === '--help') {
    console.log('usage: sudo npm run bench [-- --quick] [--runs N] [--json FILE]\n' +
      '  --quick     small workloads, 1 run (the regression guard; under 2 minutes)\n' +
      '  --runs N    runs per row, the median is reported (default 3, --quick 1)\n' +
      '  --json FILE where to write the results (default bench/results.json)\n' +
      `  --only LIST comma-separated row groups to run: ${ROW_GROUPS.join(',')} (registry builds the context image untimed when context is left out)\n` +
      'needs: root, /usr/sbin/runc, /bin/busybox (static); compares with buildah, skopeo and docker-registry\n' +
      'when installed (rows or columns are skipped, with a line saying so, when not); GNU time for peak RSS.\n' +
      'It installs nothing; scripts/setup.sh does.');
    process.exit(0);
  } else {
    console.error(`bench: unknown argument ${a} (see --help)`);
    process.exit(2);
  }
}
const unknownGroups = (opts.only ?? []).filter((g) => !ROW_GROUPS.includes(g));
if (unknownGroups.length > 0) {
  console.error(`bench: --only: unknown row group ${unknownGroups.join(', ')} (known: ${ROW_GROUPS.join(', ')})`);
  process.exit(2);
}
const wanted = (group) => opts.only === undefined || opts.only.includes(group);
const runs = opts.runs ?? (opts.quick ? 1 : 3);
if (!Number.isInteger(runs) || runs < 1) {
  console.error('bench: --runs expects a whole number >= 1');
  process.exit(2);
}
const size = opts.quick
  ? { files: 2000, mb: 50, ddMB: 100 }
  : { files: 20000, mb: 500, ddMB: 400 };

// ---- what it needs
const which = (cmd) => {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = path.join(dir, cmd);
    if (existsSync(p)) return p;
  }
  return undefined;
};
const missing = [];
if (process.getuid?.() !== 0) missing.push('root (overlayfs mounts and runc): run it with sudo');
if (!existsSync('/usr/sbin/runc')) missing.push('runc at /usr/sbin/runc (apt-get install runc)');
if (!existsSync('/bin/busybox')) missing.push('a static busybox at /bin/busybox for the base image (apt-get install busybox-static)');
if (missing.length > 0) {
  console.error(`bench: cannot run, it needs:\n  - ${missing.join('\n  - ')}\n(nothing was installed; scripts/setup.sh installs the components)`);
  process.exit(2);
}
const have = {
  buildah: which('buildah'),
  skopeo: which('skopeo'),
  registry: which('docker-registry'),
  gnuTime: existsSync('/usr/bin/time') && /GNU/.test(spawnSync('/usr/bin/time', ['--version'], { encoding: 'utf8' }).stderr + spawnSync('/usr/bin/time', ['--version'], { encoding: 'utf8' }).stdout) ? '/usr/bin/time' : undefined,
};
const notes = [];
if (!have.buildah) notes.push('buildah is not installed: the buildah columns are skipped (apt-get install buildah to compare)');
if (!have.skopeo) notes.push('skopeo is not installed: the pull reference is skipped (apt-get install skopeo)');
if (!have.registry) notes.push('docker-registry is not installed: the push and pull rows are skipped (apt-get install docker-registry)');
if (!have.gnuTime) notes.push('GNU time (/usr/bin/time) is not installed: peak RSS is not measured (apt-get install time)');
else notes.push('peak RSS: GNU `/usr/bin/time -f %M` around each tsbuild command (largest process of its tree)');
if (opts.quick) notes.push(`quick mode: context of ${size.files} files / ${size.mb} MB, multistage RUNs hash ${size.ddMB} MB twice per stage, ${runs} run(s); every row is kept`);
for (const n of notes) console.log(`bench: ${n}`);

if (!existsSync('dist/cli/main.js')) {
  console.log('bench: dist/ is missing, running `npm run build` first');
  const r = spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('bench: npm run build failed');
    process.exit(1);
  }
}

// ---- the work dir and its cleanup
const work = mkdtempSync('/var/tmp/tsbuild-bench.');
const children = new Set();
const runcIds = new Set();
function mountsUnder(dir) {
  return readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]).filter((m) => m && (m === dir || m.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
}
function removeTree(dir) {
  for (const m of mountsUnder(dir)) spawnSync('umount', ['-l', m]);
  rmSync(dir, { recursive: true, force: true });
}
let cleaned = false;
function cleanup() {
  if (cleaned) return;
  cleaned = true;
  for (const c of children) c.kill('SIGKILL');
  for (const id of runcIds) spawnSync('/usr/sbin/runc', ['delete', '-f', id], { stdio: 'ignore' });
  removeTree(work);
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { cleanup(); process.exit(130); });

// ---- running and timing commands
class CommandError extends Error {}
/**
 * Runs argv; resolves with { seconds, rssKB, stdout }; rejects (with the stderr tail) on a non-zero
 * exit. With settle, the clock starts after a `sync`: the kernel's writeback of what the previous
 * command wrote (a cold 500 MB build leaves about 1 GB dirty) costs CPU on this VM, and would
 * otherwise be charged to whichever command runs next, of either tool.
 */
function run(argv, { rss = false, stdin = 'ignore', settle = false } = {}) {
  const rssFile = rss && have.gnuTime ? path.join(work, `rss-${process.hrtime.bigint()}`) : undefined;
  const full = rssFile ? [have.gnuTime, '-f', '%M', '-o', rssFile, ...argv] : argv;
  if (settle) spawnSync('sync');
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(full[0], full.slice(1), { stdio: [stdin, 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; if (stdout.length > 1e6) stdout = stdout.slice(-1e5); });
    child.stderr.on('data', (d) => { stderr += d; if (stderr.length > 1e5) stderr = stderr.slice(-1e4); });
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      children.delete(child);
      if (code !== 0) {
        reject(new CommandError(`${argv.join(' ')} exited with ${code}: ${stderr.trim().split('\n').slice(-5).join('\n')}`));
        return;
      }
      let rssKB;
      if (rssFile) {
        const last = readFileSync(rssFile, 'utf8').trim().split('\n').pop();
        rssKB = Number(last);
        rmSync(rssFile, { force: true });
      }
      resolve({ seconds, rssKB, stdout });
    });
  });
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const version = (argv) => {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  // Without the binary's own path, which some tools print first (docker-registry).
  return r.status === 0 ? (r.stdout || r.stderr).trim().split('\n')[0].replace(argv[0], path.basename(argv[0])) : undefined;
};

const RUNC = '/usr/sbin/runc';
const tsbArgv = (root, ...a) => [path.join(repo, 'bin', 'tsbuild'), '--root', root, ...a];
const tsb = (root, a, o) => run(tsbArgv(root, ...a), { rss: true, settle: true, ...o });
const bahArgv = (root, ...a) => ['buildah', '--root', path.join(root, 'storage'), '--runroot', path.join(root, 'run'), '--storage-driver', 'overlay', ...a];
const bah = (root, a, o) => run(bahArgv(root, ...a), { settle: true, ...o });
const bud = (root, ...a) => bah(root, ['bud', '--runtime', RUNC, '--layers', ...a]);

// The busybox base, as bench/lib.sh makes it: testdata/busybox-base/Containerfile + /bin/busybox.
const baseCtx = path.join(work, 'base');
mkdirSync(baseCtx);
copyFileSync('testdata/busybox-base/Containerfile', path.join(baseCtx, 'Containerfile'));
copyFileSync('/bin/busybox', path.join(baseCtx, 'busybox'));
let storeCount = 0;
/** A fresh store of one tool with only busybox-base in it (its build is not timed). */
async function freshStore(tool) {
  const dir = path.join(work, 'stores', `${tool}-${++storeCount}`);
  mkdirSync(dir, { recursive: true });
  if (tool === 'tsbuild') await run(tsbArgv(dir, 'bud', '-q', '-t', 'busybox-base', baseCtx));
  else await bud(dir, '-q', '-t', 'busybox-base', baseCtx);
  return dir;
}
async function dropStore(dir, tool) {
  if (tool === 'buildah') await run(bahArgv(dir, 'rm', '-a')).catch(() => {});
  removeTree(dir);
}

// ---- rows
const rows = [];
let failed = false;
/** Records a row; tsbuild and reference are arrays of seconds (medians taken here). */
function record(name, { ts, tsRss, reference, ref, target, targetText, passFn, extra = {} }) {
  const tsbuild_s = ts.length ? median(ts) : null;
  const reference_s = ref && ref.length ? median(ref) : null;
  const ratio = tsbuild_s !== null && reference_s ? tsbuild_s / reference_s : null;
  let pass = null;
  if (passFn) pass = passFn({ tsbuild_s, reference_s, ratio, ...extra });
  else if (ratio !== null) pass = ratio <= target;
  const peak_rss_mb = tsRss.length && tsRss.every((x) => Number.isFinite(x)) ? Math.max(...tsRss) / 1024 : null;
  const row = { name, tsbuild_s, reference: reference_s !== null ? reference : `${reference} (not installed)`, reference_s, ratio, target: targetText ?? `<= ${target}`, pass, peak_rss_mb, ...extra };
  rows.push(row);
  const f = (x) => (x === null || x === undefined ? '-' : x.toFixed(3));
  console.log(`bench: ${name}: tsbuild ${f(tsbuild_s)} s, ${reference} ${f(reference_s)} s, ratio ${f(ratio)}, ${pass === null ? 'n/a' : pass ? 'pass' : 'FAIL'}`);
}
async function row(name, fn) {
  try {
    await fn();
  } catch (e) {
    failed = true;
    console.error(`bench: ${name}: the workload failed: ${e.message}`);
    rows.push({ name, tsbuild_s: null, reference: null, reference_s: null, ratio: null, target: null, pass: false, peak_rss_mb: null, error: e.message });
  }
}

/** A row of cold builds: each run in a fresh store with only busybox-base, tsbuild then buildah. */
function coldBuildRow(name, { tag, ctx: dir, reference, buildahArgs, target }) {
  return row(name, async () => {
    const ts = []; const tsRss = []; const ref = [];
    for (let i = 0; i < runs; i++) {
      const s = await freshStore('tsbuild');
      const r = await tsb(s, ['bud', '--layers', '-t', tag, dir]);
      ts.push(r.seconds); tsRss.push(r.rssKB);
      await dropStore(s, 'tsbuild');
      if (have.buildah) {
        const b = await freshStore('buildah');
        ref.push((await bud(b, ...buildahArgs, '-t', tag, dir)).seconds);
        await dropStore(b, 'buildah');
      }
    }
    record(name, { ts, tsRss, reference, ref, target });
  });
}

const t0 = Date.now();
console.log(`bench: work dir ${work}, ${runs} run(s) per row`);

// small: 7 steps after FROM (3 RUN, 1 COPY, 3 metadata), cold: a fresh store with the base.
const smallCtx = path.join(work, 'small');
mkdirSync(smallCtx);
writeFileSync(path.join(smallCtx, 'hello.txt'), 'hello from the small benchmark\n');
writeFileSync(path.join(smallCtx, 'Containerfile'), [
  'FROM busybox-base',
  'RUN echo one > /one',
  'COPY hello.txt /hello.txt',
  'RUN cat /hello.txt /one > /two',
  'ENV BENCH=small',
  'RUN mkdir -p /app && echo "$BENCH" > /app/three',
  'LABEL bench=small',
  'CMD ["cat", "/app/three"]',
  '',
].join('\n'));
if (wanted('small')) await coldBuildRow('small (7 steps, cold)', { tag: 'small', ctx: smallCtx, reference: 'buildah', buildahArgs: [], target: 0.5 });

// context: COPY . /ctx + one RUN; cold, nothing changed, one file changed. The last stores are kept
// for the push and run rows.
const ctx = path.join(work, 'ctx');
if (wanted('context') || wanted('registry')) {
  console.log(`bench: generating the context (${size.files} files, ${size.mb} MB)`);
  await run(['node', 'bench/make-context.mjs', ctx, String(size.files), String(size.mb)]);
  writeFileSync(path.join(ctx, 'Containerfile'), 'FROM busybox-base\nCOPY . /ctx\nRUN du -s /ctx\n');
}
let ctxStore; let ctxBuildah;
const ctxName = `context ${size.files} files / ${size.mb} MB`;
if (wanted('context')) await row(ctxName, async () => {
  const c = { cold: [[], [], []], same: [[], [], []], changed: [[], [], []] }; // [ts, rss, ref]
  for (let i = 0; i < runs; i++) {
    if (ctxStore) await dropStore(ctxStore, 'tsbuild');
    ctxStore = await freshStore('tsbuild');
    for (const [k, prep] of [['cold'], ['same'], ['changed', () => appendFileSync(path.join(ctx, 'd000', 'f0.bin'), `change ${i}\n`)]]) {
      prep?.();
      const r = await tsb(ctxStore, ['bud', '--layers', '-t', 'ctx', ctx]);
      c[k][0].push(r.seconds); c[k][1].push(r.rssKB);
    }
    if (have.buildah) {
      if (ctxBuildah) await dropStore(ctxBuildah, 'buildah');
      ctxBuildah = await freshStore('buildah');
      for (const [k, prep] of [['cold'], ['same'], ['changed', () => appendFileSync(path.join(ctx, 'd000', 'f0.bin'), `change b${i}\n`)]]) {
        prep?.();
        c[k][2].push((await bud(ctxBuildah, '-t', 'ctx', ctx)).seconds);
      }
    }
  }
  record(`${ctxName}: cold`, { ts: c.cold[0], tsRss: c.cold[1], reference: 'buildah', ref: c.cold[2], target: 0.25 });
  record(`${ctxName}: nothing changed`, { ts: c.same[0], tsRss: c.same[1], reference: 'buildah', ref: c.same[2], target: 0.05 });
  record(`${ctxName}: one file changed`, { ts: c.changed[0], tsRss: c.changed[1], reference: 'buildah', ref: c.changed[2], target: 0.2 });
});

// multistage: 3 independent CPU-heavy stages + a final COPY --from, cold; buildah --jobs 3.
const multiCtx = path.join(work, 'multi');
mkdirSync(multiCtx);
writeFileSync(path.join(multiCtx, 'Containerfile'), [
  ...['a', 'b', 'c'].flatMap((s) => [
    `FROM busybox-base AS ${s}`,
    `RUN dd if=/dev/zero bs=1M count=${size.ddMB} 2>/dev/null | sha256sum > /sum-${s} && dd if=/dev/zero bs=1M count=${size.ddMB} 2>/dev/null | md5sum >> /sum-${s}`,
  ]),
  'FROM busybox-base',
  ...['a', 'b', 'c'].map((s) => `COPY --from=${s} /sum-${s} /`),
  '',
].join('\n'));
if (wanted('multistage')) {
  await coldBuildRow('multistage (3 stages, cold)', { tag: 'multi', ctx: multiCtx, reference: 'buildah --jobs 3', buildahArgs: ['--jobs', '3'], target: 0.9 });
}

// push / push again / pull of the context image, to a loopback docker-registry.
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}
async function startRegistry() {
  const dir = path.join(work, `registry-${++storeCount}`);
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  const port = await freePort();
  const config = path.join(dir, 'config.yml');
  writeFileSync(config, ['version: 0.1', 'log:', '  level: error', 'storage:', '  filesystem:', `    rootdirectory: ${JSON.stringify(path.join(dir, 'data'))}`,
    '  delete:', '    enabled: true', '  maintenance:', '    uploadpurging:', '      enabled: false', 'http:', `  addr: "127.0.0.1:${port}"`, '  secret: tsbuild-bench', ''].join('\n'));
  const child = spawn(have.registry, ['serve', config], { stdio: 'ignore' });
  children.add(child);
  const host = `127.0.0.1:${port}`;
  for (let i = 0; i < 150; i++) {
    const ok = await fetch(`http://${host}/v2/`).then((r) => r.ok).catch(() => false);
    if (ok) {
      return { host, stop: async () => { child.kill('SIGTERM'); await new Promise((r) => child.once('close', r)); children.delete(child); removeTree(dir); } };
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new CommandError('docker-registry did not start');
}
if (!wanted('context') && wanted('registry')) {
  // The registry rows push the context image: built here once, untimed.
  ctxStore = await freshStore('tsbuild');
  await run(tsbArgv(ctxStore, 'bud', '-q', '-t', 'ctx', ctx));
  if (have.buildah) {
    ctxBuildah = await freshStore('buildah');
    await bud(ctxBuildah, '-q', '-t', 'ctx', ctx);
  }
}
const skipRegistry = !wanted('registry') ? undefined : !have.registry ? 'docker-registry is not installed' : !ctxStore ? 'the context image was not built' : undefined;
if (!wanted('registry')) {
  // left out by --only
} else if (skipRegistry) {
  console.log(`bench: skipping push, push again and pull: ${skipRegistry}`);
  for (const name of [`push ${size.mb} MB, registry empty`, 'push again, registry has the blobs', `pull ${size.mb} MB`]) {
    rows.push({ name, tsbuild_s: null, reference: null, reference_s: null, ratio: null, target: null, pass: null, peak_rss_mb: null, skipped: skipRegistry });
  }
} else {
  await row('push / pull', async () => {
    const push = [[], []]; const again = [[], []]; const pull = [[], []]; const bpush = []; const bagain = []; const spull = [];
    for (let i = 0; i < runs; i++) {
      let reg = await startRegistry();
      try {
        rmSync(path.join(ctxStore, 'cache', 'blob-info'), { recursive: true, force: true }); // forget compressed variants
        const ref = `${reg.host}/bench/ctx:tsbuild`;
        let r = await tsb(ctxStore, ['push', '--tls-verify=false', 'ctx', ref]);
        push[0].push(r.seconds); push[1].push(r.rssKB);
        r = await tsb(ctxStore, ['push', '--tls-verify=false', 'ctx', ref]);
        again[0].push(r.seconds); again[1].push(r.rssKB);
        const pullRoot = path.join(work, `pull-${i}`);
        r = await tsb(pullRoot, ['pull', '--tls-verify=false', ref]);
        pull[0].push(r.seconds); pull[1].push(r.rssKB);
        removeTree(pullRoot);
        if (have.skopeo) {
          const out = path.join(work, `skopeo-${i}`);
          spull.push((await run(['skopeo', 'copy', '--src-tls-verify=false', `docker://${ref}`, `oci:${out}:ctx`], { settle: true })).seconds);
          removeTree(out);
        }
        if (ctxBuildah) {
          await reg.stop();
          reg = await startRegistry(); // empty again
          const bref = `docker://${reg.host}/bench/ctx:buildah`;
          bpush.push((await bah(ctxBuildah, ['push', '--tls-verify=false', 'ctx', bref])).seconds);
          bagain.push((await bah(ctxBuildah, ['push', '--tls-verify=false', 'ctx', bref])).seconds);
        }
      } finally {
        await reg.stop();
      }
    }
    record(`push ${size.mb} MB, registry empty`, { ts: push[0], tsRss: push[1], reference: 'buildah push', ref: bpush, target: 1.0 });
    record('push again, registry has the blobs', {
      ts: again[0], tsRss: again[1], reference: 'buildah push', ref: bagain, target: 0.2, targetText: '<= 0.2 s absolute',
      passFn: ({ tsbuild_s }) => tsbuild_s <= 0.2,
    });
    record(`pull ${size.mb} MB`, { ts: pull[0], tsRss: pull[1], reference: 'skopeo copy', ref: spull, target: 1.0 });
  });
}

// run --rm IMAGE true: next to `buildah run` (run only, the container made before) and `runc run`
// of a prepared bundle of the same root filesystem.
if (wanted('run')) await row('run --rm IMAGE true', async () => {
  const root = await freshStore('tsbuild');
  const bundle = path.join(work, 'bundle');
  mkdirSync(path.join(bundle, 'rootfs'), { recursive: true });
  const tarFile = path.join(work, 'rootfs.tar');
  await run(tsbArgv(root, 'bud', '-q', '-t', 'busybox-base', '-o', `type=tar,dest=${tarFile}`, baseCtx));
  await run(['tar', '-xf', tarFile, '-C', path.join(bundle, 'rootfs')]);
  await run([RUNC, 'spec', '-b', bundle]);
  const spec = JSON.parse(readFileSync(path.join(bundle, 'config.json'), 'utf8'));
  spec.process.terminal = false;
  spec.process.args = ['true'];
  writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
  const id = `tsbuild-bench-${process.pid}`;
  runcIds.add(id);
  let bah0; let container;
  if (have.buildah) {
    bah0 = await freshStore('buildah');
    container = (await bah(bah0, ['from', '--pull=false', 'busybox-base'])).stdout.trim().split('\n').pop();
  }
  // One warm-up of each outside the timings (tsbuild creates its default network on first use).
  await run(tsbArgv(root, 'run', '--rm', 'busybox-base', 'true'));
  await run([RUNC, 'run', '-b', bundle, id], { stdin: 'ignore' });
  if (container) await bah(bah0, ['run', '--runtime', RUNC, container, 'true']);
  const n = Math.max(runs, opts.quick ? 3 : 10); // cheap: more samples
  const ts = []; const tsRss = []; const ref = []; const rc = [];
  for (let i = 0; i < n; i++) {
    const r = await tsb(root, ['run', '--rm', 'busybox-base', 'true']);
    ts.push(r.seconds); tsRss.push(r.rssKB);
    rc.push((await run([RUNC, 'run', '-b', bundle, id])).seconds);
    if (container) ref.push((await bah(bah0, ['run', '--runtime', RUNC, container, 'true'])).seconds);
  }
  const runc_s = median(rc);
  record('run --rm IMAGE true', {
    ts, tsRss, reference: 'buildah run', ref, target: 0.4, targetText: '<= 0.4 of buildah, <= runc + 0.1 s',
    extra: { runc_s },
    passFn: ({ tsbuild_s, ratio }) => tsbuild_s - runc_s <= 0.1 && (ratio === null || ratio <= 0.4),
  });
  if (bah0) await dropStore(bah0, 'buildah');
});

// ---- report
const f3 = (x) => (x === null || x === undefined ? '-' : x.toFixed(3));
const table = [
  '| workload | tsbuild s | reference | reference s | ratio | target | pass | tsbuild peak RSS |',
  '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ...rows.map((r) => `| ${r.name} | ${f3(r.tsbuild_s)} | ${r.reference ?? '-'}${r.runc_s !== undefined ? ` (runc run ${f3(r.runc_s)} s)` : ''} | ${f3(r.reference_s)} | ${r.ratio === null ? '-' : r.ratio.toFixed(2)} | ${r.target ?? '-'} | ${r.error ? 'ERROR' : r.skipped ? `skipped: ${r.skipped}` : r.pass === null ? 'n/a' : r.pass ? 'pass' : 'FAIL'} | ${r.peak_rss_mb === null ? '-' : `${r.peak_rss_mb.toFixed(0)} MB`} |`),
];
const osRelease = existsSync('/etc/os-release') ? /PRETTY_NAME="?([^"\n]*)/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] : undefined;
const machine = {
  os: osRelease ?? os.type(), kernel: os.release(), cpus: os.cpus().length, cpu: os.cpus()[0]?.model,
  memory_gib: Math.round(os.totalmem() / 2 ** 30), tmp_fs: spawnSync('findmnt', ['-no', 'FSTYPE', '-T', '/var/tmp'], { encoding: 'utf8' }).stdout?.trim() || 'unknown',
};
const result = {
  machine, date: new Date().toISOString(), node: process.version, quick: opts.quick, runs,
  workload: { context_files: size.files, context_mb: size.mb, multistage_dd_mb: size.ddMB },
  tools: {
    tsbuild: version(tsbArgv(path.join(work, 'v'), '--version')), runc: version([RUNC, '--version']),
    buildah: have.buildah ? version(['buildah', '--version']) : null, skopeo: have.skopeo ? version(['skopeo', '--version']) : null,
    'docker-registry': have.registry ? version([have.registry, '--version']) : null,
  },
  notes, rows, seconds: (Date.now() - t0) / 1000,
};
console.log(`\n${machine.os}, ${machine.cpus} cores, ${machine.memory_gib} GiB, ${machine.tmp_fs}; node ${process.version}; ${result.tools.buildah ?? 'no buildah'}; ${result.date.slice(0, 10)}; ${opts.quick ? 'quick, ' : ''}median of ${runs} (run row: of ${Math.max(runs, opts.quick ? 3 : 10)})\n`);
console.log(table.join('\n'));
mkdirSync(path.dirname(opts.json), { recursive: true });
writeFileSync(opts.json, `${JSON.stringify(result, null, 2)}\n`);
console.log(`\nbench: results written to ${opts.json} (${result.seconds.toFixed(0)} s in all)`);
cleanup();
process.exit(failed ? 1 : 0);
