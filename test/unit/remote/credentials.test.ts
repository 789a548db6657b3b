import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TsbuildError } from '../../../src/errors.js';
import { defaultAuthFile, findCredentials, parseCreds, removeCredentials, saveCredentials } from '../../../src/remote/credentials.js';

let dir: string;
let env: NodeJS.ProcessEnv;

// Every path the lookup may touch lives under the temp dir: HOME, XDG_RUNTIME_DIR, no REGISTRY_AUTH_FILE.
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-creds-'));
  env = { HOME: path.join(dir, 'home'), XDG_RUNTIME_DIR: path.join(dir, 'run') };
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

async function writeJson(rel: string, value: unknown): Promise<string> {
  const p = path.join(dir, rel);
  await mkdir(path.dirname(p), { recursive: true });
  await writeFile(p, typeof value === 'string' ? value : JSON.stringify(value));
  return p;
}

/** An auth.json with one entry per [key, user] pair; the password is "<user>-pw". */
function authJson(...entries: [string, string][]): unknown {
  return { auths: Object.fromEntries(entries.map(([key, user]) => [key, { auth: b64(`${user}:${user}-pw`) }])) };
}

async function rejection(promise: Promise<unknown>): Promise<TsbuildError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TsbuildError);
  return err as TsbuildError;
}

const XDG = 'run/containers/auth.json';
const CONFIG_HOME = 'home/.config/containers/auth.json';
const DOCKER = 'home/.docker/config.json';

describe('parseCreds', () => {
  it('splits at the first colon so passwords may contain colons', () => {
    expect(parseCreds('alice:pa:ss:')).toEqual({ username: 'alice', password: 'pa:ss:' });
    expect(parseCreds('bob:')).toEqual({ username: 'bob', password: '' });
  });

  it('asks for user:password when the colon is missing, without echoing the value', () => {
    let err: unknown;
    try {
      parseCreds('hunter2');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TsbuildError);
    expect((err as TsbuildError).code).toBe('INVALID_ARGUMENT');
    expect((err as TsbuildError).message).toContain('username:password');
    expect((err as TsbuildError).message).not.toContain('hunter2');
  });

  it('rejects an empty username', () => {
    expect(() => parseCreds(':secret')).toThrow('the username is empty');
  });
});

describe('defaultAuthFile', () => {
  it('prefers REGISTRY_AUTH_FILE, then XDG_RUNTIME_DIR, then /run/containers/<uid>', () => {
    expect(defaultAuthFile({ REGISTRY_AUTH_FILE: '/x/auth.json', XDG_RUNTIME_DIR: '/run/user/1' })).toBe('/x/auth.json');
    expect(defaultAuthFile({ XDG_RUNTIME_DIR: '/run/user/1' })).toBe('/run/user/1/containers/auth.json');
    expect(defaultAuthFile({})).toBe(`/run/containers/${process.getuid?.() ?? 0}/auth.json`);
  });
});

describe('findCredentials: order of sources', () => {
  beforeEach(async () => {
    await writeJson('explicit.json', authJson(['quay.io', 'authfile']));
    await writeJson('env.json', authJson(['quay.io', 'envfile']));
    await writeJson(XDG, authJson(['quay.io', 'xdg'], ['xdg-only.io', 'xdg']));
    await writeJson(CONFIG_HOME, authJson(['quay.io', 'confighome'], ['confighome-only.io', 'confighome']));
    await writeJson(DOCKER, authJson(['quay.io', 'docker'], ['docker-only.io', 'docker']));
  });

  it('uses --creds before any file', async () => {
    const found = await findCredentials('quay.io', { creds: 'cli:pw', authfile: path.join(dir, 'explicit.json') }, env);
    expect(found).toEqual({ username: 'cli', password: 'pw' });
  });

  it('uses --authfile before REGISTRY_AUTH_FILE, and only that file', async () => {
    const e = { ...env, REGISTRY_AUTH_FILE: path.join(dir, 'env.json') };
    const authfile = path.join(dir, 'explicit.json');
    expect(await findCredentials('quay.io', { authfile }, e)).toEqual({ username: 'authfile', password: 'authfile-pw' });
    expect(await findCredentials('xdg-only.io', { authfile }, e)).toBeUndefined();
    expect(await findCredentials('docker-only.io', { authfile }, e)).toBeUndefined();
  });

  it('uses REGISTRY_AUTH_FILE before the XDG file, and only that file (podman\'s --authfile default)', async () => {
    const e = { ...env, REGISTRY_AUTH_FILE: path.join(dir, 'env.json') };
    expect(await findCredentials('quay.io', {}, e)).toEqual({ username: 'envfile', password: 'envfile-pw' });
    expect(await findCredentials('docker-only.io', {}, e)).toBeUndefined();
  });

  it('searches XDG_RUNTIME_DIR, then ~/.config/containers, then ~/.docker/config.json', async () => {
    expect(await findCredentials('quay.io', {}, env)).toEqual({ username: 'xdg', password: 'xdg-pw' });
    expect(await findCredentials('confighome-only.io', {}, env)).toEqual({ username: 'confighome', password: 'confighome-pw' });
    expect(await findCredentials('docker-only.io', {}, env)).toEqual({ username: 'docker', password: 'docker-pw' });
    expect(await findCredentials('nowhere.io', {}, env)).toBeUndefined();
  });

  it('honours XDG_CONFIG_HOME for the second file', async () => {
    await writeJson('cfg/containers/auth.json', authJson(['cfg-only.io', 'cfg']));
    const e = { ...env, XDG_CONFIG_HOME: path.join(dir, 'cfg') };
    expect(await findCredentials('cfg-only.io', {}, e)).toEqual({ username: 'cfg', password: 'cfg-pw' });
    expect(await findCredentials('confighome-only.io', {}, e)).toBeUndefined();
  });

  it('reads $DOCKER_CONFIG/config.json instead of ~/.docker/config.json when DOCKER_CONFIG is set', async () => {
    await writeJson('dockercfg-dir/config.json', authJson(['docker-only.io', 'dockerconfig']));
    const e = { ...env, DOCKER_CONFIG: path.join(dir, 'dockercfg-dir') };
    expect(await findCredentials('docker-only.io', {}, e)).toEqual({ username: 'dockerconfig', password: 'dockerconfig-pw' });
  });

  it('reads the legacy ~/.dockercfg last', async () => {
    await writeJson('home/.dockercfg', { 'https://legacy.io/v1/': { auth: b64('old:timer') } });
    expect(await findCredentials('legacy.io', {}, env)).toEqual({ username: 'old', password: 'timer' });
  });

  it('skips an entry without usable auth and keeps searching', async () => {
    await writeJson(XDG, { auths: { 'quay.io': {}, 'bad.io': { auth: b64('no-colon') } }, credsStore: 'desktop' });
    await writeJson(CONFIG_HOME, { auths: {} });
    await writeJson(DOCKER, authJson(['quay.io', 'docker'], ['bad.io', 'docker']));
    expect(await findCredentials('quay.io', {}, env)).toEqual({ username: 'docker', password: 'docker-pw' });
    expect(await findCredentials('bad.io', {}, env)).toEqual({ username: 'docker', password: 'docker-pw' });
  });

  it('finds nothing when no file exists', async () => {
    await rm(dir, { recursive: true, force: true });
    expect(await findCredentials('quay.io', {}, env)).toBeUndefined();
  });
});

describe('findCredentials: entries', () => {
  it('decodes base64 user:password, keeping colons and non-ASCII in the password', async () => {
    await writeJson(XDG, { auths: { 'localhost:5000': { auth: b64('ünïcode:p:ä:ss') } } });
    expect(await findCredentials('localhost:5000', {}, env)).toEqual({ username: 'ünïcode', password: 'p:ä:ss' });
  });

  it('matches docker login\'s "https://index.docker.io/v1/" key for docker.io', async () => {
    await writeJson(DOCKER, { auths: { 'https://index.docker.io/v1/': { auth: b64('hub:pw') } } });
    expect(await findCredentials('docker.io', {}, env)).toEqual({ username: 'hub', password: 'pw' });
    expect(await findCredentials('index.docker.io', {}, env)).toEqual({ username: 'hub', password: 'pw' });
  });

  it('matches URL-style keys for other hosts', async () => {
    await writeJson(DOCKER, { auths: { 'http://old.example.com/v1/': { auth: b64('u:p') }, 'https://new.example.com': { auth: b64('n:q') } } });
    expect(await findCredentials('old.example.com', {}, env)).toEqual({ username: 'u', password: 'p' });
    expect(await findCredentials('new.example.com', {}, env)).toEqual({ username: 'n', password: 'q' });
  });

  it('prefers the longest repository key, and a namespace key never counts for the whole host', async () => {
    await writeJson(XDG, authJson(['quay.io', 'host'], ['quay.io/team', 'team'], ['quay.io/team/app', 'app'], ['ghcr.io/ns', 'ns']));
    expect(await findCredentials('quay.io/team/app', {}, env)).toMatchObject({ username: 'app' });
    expect(await findCredentials('quay.io/team/other', {}, env)).toMatchObject({ username: 'team' });
    expect(await findCredentials('quay.io/elsewhere/x', {}, env)).toMatchObject({ username: 'host' });
    expect(await findCredentials('quay.io', {}, env)).toMatchObject({ username: 'host' });
    expect(await findCredentials('ghcr.io', {}, env)).toBeUndefined();
  });
});

describe('malformed auth files', () => {
  const secret = 's3cr3t-Pa55';
  const encoded = b64(`alice:${secret}`);

  it('fails with PARSE naming the file and never showing a secret', async () => {
    const p = await writeJson(XDG, `{"auths": {"quay.io": {"auth": "${encoded}", "password": "${secret}"}},,}`);
    const err = await rejection(findCredentials('quay.io', {}, env));
    expect(err.code).toBe('PARSE');
    expect(err.message).toContain(p);
    expect(err.message).toMatch(/: malformed auth file: invalid JSON at line 1, column \d+$/);
    expect(err.message).not.toContain(secret);
    expect(err.message).not.toContain(encoded);
    expect(err.message).not.toContain('alice');
    expect(String(err.cause ?? '')).not.toContain(secret);
  });

  it('fails with PARSE when auths is not an object', async () => {
    const p = await writeJson(XDG, { auths: ['quay.io'] });
    const err = await rejection(findCredentials('quay.io', {}, env));
    expect(err.message).toBe(`${p}: malformed auth file: "auths" must be an object`);
  });

  it('refuses to overwrite a file it cannot parse', async () => {
    const p = await writeJson(XDG, `{"auths": {"quay.io": {"auth": "${encoded}"}}`);
    const err = await rejection(saveCredentials('quay.io', { username: 'a', password: 'b' }, { env }));
    expect(err.code).toBe('PARSE');
    expect(await readFile(p, 'utf8')).toContain(encoded);
  });
});

describe('saveCredentials', () => {
  it('creates the XDG auth file with mode 0600 in a 0700 directory', async () => {
    const written = await saveCredentials('localhost:5000', { username: 'alice', password: 'pw:1' }, { env });
    expect(written).toBe(path.join(dir, XDG));
    expect((await stat(written)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(written))).mode & 0o777).toBe(0o700);
    expect(JSON.parse(await readFile(written, 'utf8'))).toEqual({ auths: { 'localhost:5000': { auth: b64('alice:pw:1') } } });
    expect(await findCredentials('localhost:5000', {}, env)).toEqual({ username: 'alice', password: 'pw:1' });
  });

  it('writes --authfile when given and REGISTRY_AUTH_FILE otherwise', async () => {
    const authfile = path.join(dir, 'custom', 'auth.json');
    expect(await saveCredentials('quay.io', { username: 'a', password: 'b' }, { authfile, env })).toBe(authfile);
    const envFile = path.join(dir, 'env', 'auth.json');
    expect(await saveCredentials('quay.io', { username: 'a', password: 'b' }, { env: { ...env, REGISTRY_AUTH_FILE: envFile } })).toBe(envFile);
  });

  it('keeps other entries and unknown top-level keys, replacing only its own entry', async () => {
    const p = await writeJson(XDG, {
      auths: { 'quay.io': { auth: b64('old:old'), identitytoken: 'stale' }, 'ghcr.io': { auth: b64('g:h'), email: 'x@y' } },
      credHelpers: { 'gcr.io': 'gcloud' },
      HttpHeaders: { 'User-Agent': 'x' },
    });
    await saveCredentials('quay.io', { username: 'new', password: 'new-pw' }, { env });
    expect(JSON.parse(await readFile(p, 'utf8'))).toEqual({
      auths: { 'quay.io': { auth: b64('new:new-pw') }, 'ghcr.io': { auth: b64('g:h'), email: 'x@y' } },
      credHelpers: { 'gcr.io': 'gcloud' },
      HttpHeaders: { 'User-Agent': 'x' },
    });
  });

  it('tightens an existing world-readable file to 0600', async () => {
    const p = await writeJson(XDG, { auths: {} });
    await import('node:fs/promises').then((fs) => fs.chmod(p, 0o644));
    await saveCredentials('quay.io', { username: 'a', password: 'b' }, { env });
    expect((await stat(p)).mode & 0o777).toBe(0o600);
  });

  it('stores URL and Docker Hub spellings under one key', async () => {
    const p = await saveCredentials('https://quay.io/v1/', { username: 'a', password: 'b' }, { env });
    await saveCredentials('index.docker.io', { username: 'c', password: 'd' }, { env });
    await saveCredentials('quay.io/team/', { username: 'e', password: 'f' }, { env });
    expect(Object.keys((JSON.parse(await readFile(p, 'utf8')) as { auths: object }).auths)).toEqual(['quay.io', 'docker.io', 'quay.io/team']);
  });

  it('rejects a username containing a colon', async () => {
    const err = await rejection(saveCredentials('quay.io', { username: 'a:b', password: 'secret' }, { env }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).not.toContain('secret');
  });
});

describe('removeCredentials', () => {
  it('removes one registry and keeps the rest', async () => {
    const p = await writeJson(XDG, { ...(authJson(['quay.io', 'q'], ['ghcr.io', 'g']) as object), credsStore: 'x' });
    expect(await removeCredentials('quay.io', { env })).toBe(true);
    expect(JSON.parse(await readFile(p, 'utf8'))).toEqual({ auths: { 'ghcr.io': { auth: b64('g:g-pw') } }, credsStore: 'x' });
    expect((await stat(p)).mode & 0o777).toBe(0o600);
    expect(await findCredentials('quay.io', {}, env)).toBeUndefined();
  });

  it('removes every spelling of a host, but not its namespace entries', async () => {
    const p = await writeJson(XDG, authJson(['docker.io', 'a'], ['https://index.docker.io/v1/', 'b'], ['docker.io/team', 'c']));
    expect(await removeCredentials('docker.io', { env })).toBe(true);
    expect(Object.keys((JSON.parse(await readFile(p, 'utf8')) as { auths: object }).auths)).toEqual(['docker.io/team']);
  });

  it('reports false when not logged in, and does not create a file', async () => {
    expect(await removeCredentials('quay.io', { env })).toBe(false);
    await expect(stat(path.join(dir, XDG))).rejects.toThrow();
    await writeJson(XDG, authJson(['ghcr.io', 'g']));
    expect(await removeCredentials('quay.io', { env })).toBe(false);
  });

  it('removes all entries with all, keeping other keys', async () => {
    const authfile = await writeJson('custom.json', { ...(authJson(['quay.io', 'q'], ['ghcr.io', 'g']) as object), credHelpers: { 'gcr.io': 'gcloud' } });
    expect(await removeCredentials('', { authfile, all: true, env })).toBe(true);
    expect(JSON.parse(await readFile(authfile, 'utf8'))).toEqual({ auths: {}, credHelpers: { 'gcr.io': 'gcloud' } });
    expect(await removeCredentials('', { authfile, all: true, env })).toBe(false);
  });
});
