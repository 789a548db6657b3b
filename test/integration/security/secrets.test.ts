// Secrets never leaked: a build with file and env secrets used by RUN --mount=type=secret, a
// build-arg that is not a secret (for contrast: it must show up, proving the search works), a
// registry login against a token-auth registry, a failed login, a push and a pull with the
// credentials, a failing step that uses a secret, all at --log-level debug. Then every artefact is
// searched for the secret values, the password (also base64-encoded, as in Basic auth) and the
// registry's bearer tokens: every file under the root (blobs: layer tars, configs, manifests; the
// build cache and its keys; the file-digest memo; records; container files; logs), every command's
// stdout and stderr, inspect and history output, and every file of the test's scratch dir except
// the credentials file, which must be mode 0600.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { open, readdir, readFile, rm, stat, writeFile, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type TestRegistry } from '../../helpers/registry.js';
import { buildBusyboxBase, createTestRoot, makeContext, mountsUnder, type CliResult, type TestRoot } from '../../helpers/tsbuild.js';

const tag = randomBytes(6).toString('hex');
const FILE_SECRET = `file-secret-${tag}-Zq`;
const ENV_SECRET = `env-secret-${tag}-Xw`;
const WRONG_PASSWORD = `wrong-password-${tag}-Yv`;
const BUILD_ARG = `visible-arg-${tag}`;
const URL_PASSWORD = `url-password-${tag}-Wu`;

let work: string;
let authfile: string;
let env: NodeJS.ProcessEnv;
let registry: TestRegistry;
let t: TestRoot;
let ctx: string;
let failCtx: string;
/** Serves /file.txt only with Basic alice:URL_PASSWORD: an ADD URL with credentials in it. */
let files: Server;
let filesHost: string;
/** Every command's output, for the search at the end. */
const outputs: Array<{ args: string[]; result: CliResult }> = [];

async function tsbuild(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const result = await t.run(['--log-level', 'debug', ...args], { input: options.input, env: { ...env, ...options.env } });
  outputs.push({ args, result });
  return result;
}

async function ok(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const result = await tsbuild(args, options);
  if (result.code !== 0) throw new Error(`tsbuild ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
  return result;
}

/** Every regular file under dir, with its bytes. */
/** Every regular file under `dir`, with its content and the device it lives on (as one open file: no race between the two). */
async function filesIn(dir: string): Promise<Array<{ file: string; bytes: Buffer; dev: number }>> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  const out: Array<{ file: string; bytes: Buffer; dev: number }> = [];
  for (const e of entries) {
    if (!e.isFile()) continue;
    const file = path.join(e.parentPath ?? e.path, e.name);
    // Files of a running build come and go between the listing and the read.
    const handle = await open(file, 'r').catch(() => undefined);
    if (handle === undefined) continue;
    try {
      const [st, bytes] = await Promise.all([handle.stat(), handle.readFile()]);
      out.push({ file, bytes, dev: st.dev });
    } catch {
      // Gone while being read.
    } finally {
      await handle.close();
    }
  }
  return out;
}

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-secrets-'));
  authfile = path.join(work, 'auth.json');
  const conf = path.join(work, 'registries.conf');
  await writeFile(conf, 'unqualified-search-registries = []\n');
  env = { REGISTRY_AUTH_FILE: authfile, XDG_RUNTIME_DIR: work, CONTAINERS_REGISTRIES_CONF: conf, SECRET_VAR: ENV_SECRET };
  registry = await startRegistry({ auth: 'token' });
  t = await createTestRoot();
  await buildBusyboxBase(t);
  await writeFile(path.join(work, 'secret.txt'), FILE_SECRET);
  files = createServer((req, res) => {
    const expected = `Basic ${Buffer.from(`alice:${URL_PASSWORD}`).toString('base64')}`;
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="files"' });
      res.end();
      return;
    }
    res.end('downloaded with a password\n');
  });
  await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
  filesHost = `127.0.0.1:${(files.address() as AddressInfo).port}`;
  ctx = await makeContext({
    Containerfile: [
      `FROM ${registry.host}/secrets/base:1`,
      'ARG NOTSECRET',
      // Both secrets used: as the default file, as a file elsewhere, and as an environment variable.
      'RUN --mount=type=secret,id=s --mount=type=secret,id=e,env=E test "$(cat /run/secrets/s)" != "" && test -n "$E" && echo "arg=$NOTSECRET" > /arg',
      'RUN --mount=type=secret,id=s,target=/etc/app/key,mode=0444 wc -c /etc/app/key > /keysize',
      'RUN --mount=type=secret,id=e,env=E,target=/tmp/e sh -c \'test -s /tmp/e && test -n "$E"\'',
      `ADD http://alice:${URL_PASSWORD}@${filesHost}/file.txt /downloaded.txt`,
    ].join('\n'),
  });
  failCtx = await makeContext({
    Containerfile: [`FROM ${registry.host}/secrets/base:1`, 'RUN --mount=type=secret,id=e,env=E --mount=type=secret,id=s sh -c \'test "$E" = "$(cat /run/secrets/s)"\''].join('\n'),
  });
});

afterAll(async () => {
  const leaked = t ? await mountsUnder(t.root) : [];
  await t?.cleanup();
  await registry?.stop();
  if (files) await new Promise((resolve) => files.close(resolve));
  await Promise.all([ctx, failCtx].filter(Boolean).map((c) => rm(c, { recursive: true, force: true })));
  if (work) await rm(work, { recursive: true, force: true });
  expect(leaked).toEqual([]);
});

describe('secrets and credentials', () => {
  it('refuses a wrong password without echoing it', async () => {
    const result = await tsbuild(['login', '--tls-verify=false', '-u', registry.username!, '--password-stdin', registry.host], { input: `${WRONG_PASSWORD}\n` });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/^Error: login to .* failed: invalid username or password/m);
    // A password on the command line (-p) is refused the same way.
    const onArgv = await tsbuild(['login', '--tls-verify=false', '-u', registry.username!, '-p', WRONG_PASSWORD, registry.host]);
    expect(onArgv.code).not.toBe(0);
  });

  it('logs in, keeping the credentials in a 0600 auth file', async () => {
    await ok(['login', '--tls-verify=false', '-u', registry.username!, '--password-stdin', registry.host], { input: `${registry.password}\n` });
    expect((await stat(authfile)).mode & 0o777).toBe(0o600);
    const auth = await readFile(authfile, 'utf8');
    expect(auth).toContain(Buffer.from(`${registry.username}:${registry.password}`).toString('base64'));
  });

  it('pushes and builds with the credentials and the secrets', async () => {
    await ok(['push', '--tls-verify=false', 'busybox-base', `${registry.host}/secrets/base:1`]);
    await ok(['rmi', 'busybox-base']);
    const build = [
      'bud',
      '--tls-verify=false',
      '--secret',
      `id=s,src=${path.join(work, 'secret.txt')}`,
      '--secret',
      'id=e,env=SECRET_VAR',
      '--build-arg',
      `NOTSECRET=${BUILD_ARG}`,
      '-t',
      'with-secrets',
      ctx,
    ];
    await ok(build);
    // A second build with other values is a cache hit: the key has no trace of a value.
    const other = path.join(work, 'other-secret.txt');
    await writeFile(other, 'another value');
    const again = await ok(build.map((a) => (a.startsWith('id=s,src=') ? `id=s,src=${other}` : a)), { env: { SECRET_VAR: 'another env value' } });
    // (The RUNs come first: had one missed, every later step would have too.)
    expect(again.stdout.match(/Using cache/g)?.length).toBeGreaterThanOrEqual(3);
    expect((await ok(['run', '--rm', 'with-secrets', 'cat', '/arg', '/keysize', '/downloaded.txt'])).stdout).toBe(
      `arg=${BUILD_ARG}\n${FILE_SECRET.length} /etc/app/key\ndownloaded with a password\n`,
    );
    await ok(['inspect', 'with-secrets']);
    await ok(['images', '--json']);
    await ok(['push', '--tls-verify=false', 'with-secrets', `${registry.host}/secrets/app:1`]);
    await ok(['rmi', `${registry.host}/secrets/base:1`, 'with-secrets']);
    await ok(['pull', '--tls-verify=false', `${registry.host}/secrets/app:1`]);
  });

  it('fails a step that uses secrets with an error naming the command, not the values', async () => {
    const result = await tsbuild(['bud', '--tls-verify=false', '--secret', `id=s,src=${path.join(work, 'secret.txt')}`, '--secret', 'id=e,env=SECRET_VAR', '-t', 'fails', failCtx]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/^Error: .*Containerfile:2: RUN .*status 1/m);
    expect(result.stderr).toContain('test "$E" = "$(cat /run/secrets/s)"');
  });

  it('keeps secrets off the disk while the RUN that uses them runs', async () => {
    const dir = await makeContext({
      Containerfile: ['FROM scratch', 'COPY busybox /bin/busybox', 'RUN --mount=type=secret,id=e,env=E --mount=type=secret,id=s ["/bin/busybox", "sleep", "2"]'].join('\n'),
    });
    await writeFile(path.join(dir, 'busybox'), await readFile('/bin/busybox'), { mode: 0o755 });
    try {
      const build = tsbuild(['bud', '--secret', `id=s,src=${path.join(work, 'secret.txt')}`, '--secret', 'id=e,env=SECRET_VAR', '-t', 'sleeper', dir]);
      let finished = false;
      void build.finally(() => (finished = true));
      const found = new Set<string>();
      let scansDuringRun = 0;
      // Files on mounts under the root are in memory (the RUN's secrets tmpfs) or the RUN's own
      // view (its overlay); what is on the root's own file system (its device) would reach the disk.
      // The device is read with each file: a mount list taken before the walk misses a tmpfs
      // mounted (and written to) during it.
      const rootDev = (await stat(t.root)).dev;
      while (!finished) {
        if ((await mountsUnder(t.root)).length > 0) scansDuringRun++;
        for (const { file, bytes, dev } of await filesIn(t.root).catch(() => [])) {
          if (dev !== rootDev) continue;
          if (bytes.includes(ENV_SECRET) || bytes.includes(FILE_SECRET)) found.add(file);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      expect((await build).code, (await build).stderr).toBe(0);
      expect(scansDuringRun).toBeGreaterThan(0);
      expect([...found]).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('pulls with --creds after a logout', async () => {
    await ok(['logout', registry.host]);
    await ok(['rmi', `${registry.host}/secrets/app:1`]);
    const anonymous = await tsbuild(['pull', '--tls-verify=false', `${registry.host}/secrets/app:1`]);
    expect(anonymous.code).not.toBe(0);
    await ok(['pull', '--tls-verify=false', '--creds', `${registry.username}:${registry.password}`, `${registry.host}/secrets/app:1`]);
  });

  it('leaves no secret, password or token in any artefact', async () => {
    const password = registry.password!;
    const basic = Buffer.from(`${registry.username}:${password}`).toString('base64');
    const needles: Record<string, string> = {
      'file secret': FILE_SECRET,
      'env secret': ENV_SECRET,
      password,
      'wrong password': WRONG_PASSWORD,
      'basic credentials': basic,
      'ADD URL password': URL_PASSWORD,
      'ADD URL credentials': Buffer.from(`alice:${URL_PASSWORD}`).toString('base64'),
    };
    // A JWT: base64url JSON header, payload and signature (the registry's bearer tokens).
    const jwt = /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/;
    const artefacts: Array<{ where: string; text: Buffer }> = [];
    for (const { file, bytes } of await filesIn(t.root)) artefacts.push({ where: file, text: bytes });
    for (const { file, bytes } of await filesIn(work)) if (file !== authfile) artefacts.push({ where: file, text: bytes });
    for (const { args, result } of outputs) {
      artefacts.push({ where: `stdout of ${args.join(' ')}`, text: Buffer.from(result.stdout) });
      artefacts.push({ where: `stderr of ${args.join(' ')}`, text: Buffer.from(result.stderr) });
    }
    // The scratch dir's secret file is the secret's source, not a leak.
    const searched = artefacts.filter((a) => a.where !== path.join(work, 'secret.txt'));
    const leaks: string[] = [];
    for (const a of searched) {
      for (const [name, value] of Object.entries(needles)) if (a.text.includes(value)) leaks.push(`${name} in ${a.where}`);
      if (jwt.test(a.text.toString('latin1'))) leaks.push(`a bearer token in ${a.where}`);
    }
    expect(leaks).toEqual([]);
    // The contrast: a build-arg is no secret; it is in the image's history (and so in a blob),
    // which shows the search reads the places a leak would be.
    expect(searched.some((a) => a.where.includes(`${path.sep}blobs${path.sep}`) && a.text.includes(BUILD_ARG))).toBe(true);
    // The debug logs did log the registry traffic (so there was something to redact).
    expect(outputs.some(({ result }) => /registry request/.test(result.stderr))).toBe(true);
    // Nothing but the auth file holds the login: no other copy of the credentials anywhere.
    expect(artefacts.filter((a) => a.text.includes(basic)).map((a) => a.where)).toEqual([]);
  });
});
