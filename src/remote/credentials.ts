// Registry credentials: --creds parsing, lookup in containers-auth.json(5) / docker config.json
// files in podman's order, and login/logout writes to the primary auth file (0600, atomic, other
// entries and unknown keys kept). Credential helpers (credHelpers, credsStore) and identity tokens
// are not supported: such entries are skipped. No error message ever contains a secret.
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { errnoCode, TsbuildError } from '../errors.js';
import { writeFileAtomic } from '../util/fs.js';
import type { CredentialSources, Credentials } from './types.js';

/** "user:password"; the password may itself contain ':'. */
export function parseCreds(creds: string): Credentials {
  const colon = creds.indexOf(':');
  // The argument is never echoed back: a user who typed only a password must not see it in an error.
  if (colon === -1) {
    throw new TsbuildError('INVALID_ARGUMENT', 'invalid --creds value: expected "username:password"', {
      hint: 'give both parts, e.g. --creds user:password',
    });
  }
  if (colon === 0) throw new TsbuildError('INVALID_ARGUMENT', 'invalid --creds value: the username is empty');
  return { username: creds.slice(0, colon), password: creds.slice(colon + 1) };
}

function homeDir(env: NodeJS.ProcessEnv): string {
  return env.HOME || os.homedir();
}

/**
 * The primary (read/write) auth file: REGISTRY_AUTH_FILE, else ${XDG_RUNTIME_DIR}/containers/auth.json,
 * else /run/containers/<uid>/auth.json (containers/image's fallback when XDG_RUNTIME_DIR is unset,
 * typically root).
 */
export function defaultAuthFile(env: NodeJS.ProcessEnv = process.env): string {
  if (env.REGISTRY_AUTH_FILE) return env.REGISTRY_AUTH_FILE;
  if (env.XDG_RUNTIME_DIR) return path.join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json');
  return path.join('/run/containers', String(process.getuid?.() ?? 0), 'auth.json');
}

interface AuthPath {
  file: string;
  /** ~/.dockercfg: the entries map is the whole document (no "auths" wrapper), keys are URLs. */
  legacy: boolean;
}

/**
 * The files searched, in order (containers/image's getAuthFilePaths, as podman uses it):
 *   1. --authfile, else REGISTRY_AUTH_FILE (podman's --authfile default). Either one is an explicit
 *      choice, and then only that file is read.
 *   2. Otherwise ${XDG_RUNTIME_DIR}/containers/auth.json (or /run/containers/<uid>/auth.json),
 *   3. ${XDG_CONFIG_HOME:-$HOME/.config}/containers/auth.json,
 *   4. $DOCKER_CONFIG/config.json when DOCKER_CONFIG is set, else $HOME/.docker/config.json
 *      (DOCKER_CONFIG replaces the docker directory, as it does for docker itself),
 *   5. $HOME/.dockercfg (the legacy docker format).
 * --creds, when given, wins before any file is read.
 */
export function authFileSearchPath(authfile: string | undefined, env: NodeJS.ProcessEnv = process.env): AuthPath[] {
  const explicit = authfile || env.REGISTRY_AUTH_FILE;
  if (explicit) return [{ file: explicit, legacy: false }];
  const home = homeDir(env);
  const configHome = env.XDG_CONFIG_HOME || path.join(home, '.config');
  return [
    { file: defaultAuthFile(env), legacy: false },
    { file: path.join(configHome, 'containers', 'auth.json'), legacy: false },
    { file: env.DOCKER_CONFIG ? path.join(env.DOCKER_CONFIG, 'config.json') : path.join(home, '.docker', 'config.json'), legacy: false },
    { file: path.join(home, '.dockercfg'), legacy: true },
  ];
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Reads an auth file as a JSON object; undefined when it does not exist. The JSON parser's own
 * message is never used: V8 quotes the surrounding text, which would put a secret in the error.
 */
async function readAuthDocument(file: string): Promise<JsonObject | undefined> {
  let text: string;
  try {
    // Synchronously: small files, looked for in four places by every pull and push (util/fs.ts).
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new TsbuildError('IO', `${file}: cannot read auth file (${code ?? 'error'})`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    const position = /position (\d+)/.exec(err instanceof Error ? err.message : '')?.[1];
    let where = '';
    if (position !== undefined) {
      const before = text.slice(0, Number(position)).split('\n');
      where = ` at line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}`;
    }
    throw new TsbuildError('PARSE', `${file}: malformed auth file: invalid JSON${where}`, {
      hint: 'fix or remove the file (tsbuild logout --all rewrites only files it can read)',
    });
  }
  if (!isObject(doc)) throw new TsbuildError('PARSE', `${file}: malformed auth file: expected a JSON object`);
  return doc;
}

/** The entries map of a document, validated: `auths` must be an object of objects when present. */
function entriesOf(file: string, doc: JsonObject, legacy: boolean): JsonObject {
  const auths = legacy ? doc : doc.auths;
  if (auths === undefined) return {};
  if (!isObject(auths)) throw new TsbuildError('PARSE', `${file}: malformed auth file: "auths" must be an object`);
  for (const [key, entry] of Object.entries(auths)) {
    if (!isObject(entry)) throw new TsbuildError('PARSE', `${file}: malformed auth file: entry "${key}" must be an object`);
  }
  return auths;
}

/** Docker Hub's many spellings, all one registry. */
function normalizeHost(host: string): string {
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host;
}

/**
 * The host a file key stands for when it is written as a URL ("https://index.docker.io/v1/", as
 * docker login writes for Docker Hub, or "http://host/…"), or any key in the legacy format; plain
 * keys ("quay.io/ns") keep their path so a namespace entry never counts as the whole registry.
 */
function normalizeFileKey(key: string, legacy: boolean): string {
  const stripped = key.replace(/^https?:\/\//, '');
  const host = legacy || stripped !== key ? (stripped.split('/')[0] ?? '') : stripped;
  return normalizeHost(host);
}

/** The key login/logout use for a registry argument: URLs reduced to their host, slashes trimmed, Docker Hub as docker.io. */
function entryKey(registry: string): string {
  const stripped = registry.replace(/^https?:\/\//, '');
  const key = stripped !== registry ? (stripped.split('/')[0] ?? '') : stripped.replace(/\/+$/, '');
  const slash = key.indexOf('/');
  const normalized = slash === -1 ? normalizeHost(key) : normalizeHost(key.slice(0, slash)) + key.slice(slash);
  if (normalized === '' || /\s/.test(normalized)) {
    throw new TsbuildError('INVALID_ARGUMENT', `invalid registry "${registry}": expected host[:port] or host[:port]/namespace`);
  }
  return normalized;
}

function decodeEntry(entry: unknown): Credentials | undefined {
  if (!isObject(entry) || typeof entry.auth !== 'string' || entry.auth === '') return undefined;
  const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  // Docker skips entries it cannot split rather than failing the pull; so do we.
  if (colon <= 0) return undefined;
  // Some writers pad the password with NULs; containers/image trims them.
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1).replace(/\0+$/, '') };
}

/**
 * The entry for `key` ("host" or "host/namespace/repo"): the longest matching key first
 * (host/ns/repo, host/ns, host), then a URL-style key for the same host.
 */
function lookup(entries: JsonObject, key: string, legacy: boolean): Credentials | undefined {
  if (!legacy) {
    const candidates: string[] = [];
    for (let name = key; ; ) {
      candidates.push(name);
      const slash = name.lastIndexOf('/');
      if (slash === -1) break;
      name = name.slice(0, slash);
    }
    for (const candidate of candidates) {
      const found = decodeEntry(entries[candidate]);
      if (found) return found;
    }
  }
  const host = normalizeHost(key.split('/')[0] ?? '');
  for (const [fileKey, entry] of Object.entries(entries)) {
    // Namespace keys only ever match by exact prefix above, never as the whole host.
    if (normalizeFileKey(fileKey, legacy) !== host) continue;
    const found = decodeEntry(entry);
    if (found) return found;
  }
  return undefined;
}

/**
 * Credentials for `registry` (a host[:port], or host/namespace/repo to let repository-scoped
 * entries win): --creds, else the first auth file in authFileSearchPath() with a usable entry.
 */
export async function findCredentials(
  registry: string,
  sources: CredentialSources,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Credentials | undefined> {
  if (sources.creds !== undefined) return parseCreds(sources.creds);
  const key = entryKey(registry);
  for (const { file, legacy } of authFileSearchPath(sources.authfile, env)) {
    const doc = await readAuthDocument(file);
    if (doc === undefined) continue;
    const found = lookup(entriesOf(file, doc, legacy), key, legacy);
    if (found) return found;
  }
  return undefined;
}

async function writeAuthDocument(file: string, doc: JsonObject): Promise<void> {
  // The directory may hold other secrets; create it private. An existing directory is left as is.
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, `${JSON.stringify(doc, null, '\t')}\n`, 0o600);
}

/**
 * Stores credentials for `registry` (host[:port] or host/namespace) in `authfile`, else the
 * primary auth file; returns the file written. The entry is replaced whole (a stale identity
 * token must not survive a new login); everything else in the file is kept.
 */
export async function saveCredentials(
  registry: string,
  creds: Credentials,
  options: { authfile?: string; env?: NodeJS.ProcessEnv },
): Promise<string> {
  const key = entryKey(registry);
  // "user:pass" is split at the first colon when read back, so a colon in the name cannot round-trip.
  if (creds.username === '' || creds.username.includes(':')) {
    throw new TsbuildError('INVALID_ARGUMENT', 'invalid username: it must be non-empty and must not contain ":"');
  }
  const file = options.authfile || defaultAuthFile(options.env ?? process.env);
  const doc = (await readAuthDocument(file)) ?? {};
  const auths = { ...entriesOf(file, doc, false) };
  auths[key] = { auth: Buffer.from(`${creds.username}:${creds.password}`, 'utf8').toString('base64') };
  await writeAuthDocument(file, { ...doc, auths });
  return file;
}

/**
 * Removes the entry for `registry` (also its URL-style spellings, e.g. "https://index.docker.io/v1/"
 * for docker.io), or every entry with `all`, from `authfile` or the primary auth file. Returns
 * whether anything was removed; a missing file is "not logged in", and is not created.
 */
export async function removeCredentials(
  registry: string,
  options: { authfile?: string; all?: boolean; env?: NodeJS.ProcessEnv },
): Promise<boolean> {
  const file = options.authfile || defaultAuthFile(options.env ?? process.env);
  const doc = await readAuthDocument(file);
  if (doc === undefined) return false;
  const auths = { ...entriesOf(file, doc, false) };
  let removed = false;
  if (options.all) {
    removed = Object.keys(auths).length > 0;
    for (const k of Object.keys(auths)) delete auths[k];
  } else {
    const key = entryKey(registry);
    // Every spelling of a host-level entry goes, or a leftover "https://index.docker.io/v1/" would
    // keep the user logged in to docker.io after logout.
    for (const fileKey of Object.keys(auths)) {
      if (fileKey === key || (!key.includes('/') && normalizeFileKey(fileKey, false) === key)) {
        delete auths[fileKey];
        removed = true;
      }
    }
  }
  if (removed) await writeAuthDocument(file, { ...doc, auths });
  return removed;
}
