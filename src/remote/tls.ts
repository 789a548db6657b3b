// TLS material for one registry, found the way containers/image and docker find it: in each certs
// directory, the sub-directory named after the registry's host[:port] holds `*.crt` files (extra CA
// certificates, added to the default roots) and `*.cert` + `*.key` pairs (client certificates).
// A directory given directly (podman's --cert-dir) holds those files itself, so both are read.
// The CAs of NODE_EXTRA_CA_CERTS are trusted too: bin/tsbuild moves that variable to
// TSBUILD_EXTRA_CA_CERTS so node does not parse the bundle at every start-up, and they are read
// here, only when a registry connection is made.
import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { errnoCode, TsbuildError } from '../errors.js';

export const DEFAULT_CERTS_DIRS = ['/etc/containers/certs.d', '/etc/docker/certs.d'];

/** Set by bin/tsbuild to the NODE_EXTRA_CA_CERTS it took away from node. */
export const EXTRA_CA_CERTS_ENV = 'TSBUILD_EXTRA_CA_CERTS';

export interface TlsMaterial {
  /**
   * Default roots plus the extra CAs; undefined when there are no extra CAs (node's defaults apply);
   * empty when certificates are not verified (no trust anchors are needed then).
   */
  ca?: string[];
  cert?: string;
  key?: string;
  /** The files used, for debug logs. */
  files: string[];
}

async function listDir(dir: string): Promise<string[]> {
  try {
    // Only files: the base directories hold one sub-directory per host, which are not certificates.
    // Synchronously: a few small directories, looked at by every connection (util/fs.ts).
    const entries = readdirSync(dir, { withFileTypes: true });
    return entries.filter((e) => e.isFile() || e.isSymbolicLink()).map((e) => e.name).sort();
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw new TsbuildError('IO', `cannot read certificates directory ${dir}: ${code ?? String(err)}`, { cause: err });
  }
}

async function readText(file: string): Promise<string> {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new TsbuildError('IO', `cannot read certificate file ${file}: ${errnoCode(err) ?? String(err)}`, { cause: err });
  }
}

/**
 * The CA bundle node would have loaded at start-up, as [file, PEM text], when it is tsbuild's to add:
 * TSBUILD_EXTRA_CA_CERTS (node never saw it), or NODE_EXTRA_CA_CERTS when an explicit CA list is
 * built anyway (an explicit list replaces node's whole store, extras included). Like node, an
 * unreadable bundle is skipped rather than fatal (node warns and starts without it).
 */
async function envExtraCas(env: NodeJS.ProcessEnv, needed: boolean): Promise<[string, string] | undefined> {
  const file = env[EXTRA_CA_CERTS_ENV] || (needed ? env.NODE_EXTRA_CA_CERTS : undefined);
  if (!file) return undefined;
  try {
    return [file, await readFile(file, 'utf8')];
  } catch {
    return undefined;
  }
}

/**
 * Reads the CA and client certificates for `hosts` (host[:port] names, e.g. the location and the
 * registry name); `env` names the extra CA bundle (see envExtraCas). Without `verify` (an insecure
 * registry, --tls-verify=false) only client certificates are read, and `ca` is empty: node would
 * otherwise parse its whole root store (~40 ms) for a connection that checks nothing against it.
 */
export async function loadTlsMaterial(certsDirs: readonly string[], hosts: readonly string[], env: NodeJS.ProcessEnv = process.env, verify = true): Promise<TlsMaterial> {
  const dirs = new Set<string>();
  for (const base of certsDirs) {
    for (const host of hosts) dirs.add(path.join(base, host));
    dirs.add(base);
  }
  const extraCas: string[] = [];
  const files: string[] = [];
  let cert: string | undefined;
  let key: string | undefined;
  for (const dir of dirs) {
    const names = await listDir(dir);
    for (const name of names) {
      const file = path.join(dir, name);
      if (name.endsWith('.crt')) {
        if (!verify) continue;
        extraCas.push(await readText(file));
        files.push(file);
      } else if (name.endsWith('.cert')) {
        const keyName = `${name.slice(0, -'.cert'.length)}.key`;
        if (!names.includes(keyName)) {
          throw new TsbuildError('INVALID_ARGUMENT', `missing key ${keyName} for client certificate ${file}`);
        }
        // The first pair wins, as in containers/image (one client identity per connection).
        if (cert === undefined) {
          cert = await readText(file);
          key = await readText(path.join(dir, keyName));
          files.push(file, path.join(dir, keyName));
        }
      } else if (name.endsWith('.key')) {
        const certName = `${name.slice(0, -'.key'.length)}.cert`;
        if (!names.includes(certName)) {
          throw new TsbuildError('INVALID_ARGUMENT', `missing client certificate ${certName} for key ${file}`);
        }
      }
    }
  }
  if (!verify) return { ca: [], cert, key, files };
  const fromEnv = await envExtraCas(env, extraCas.length > 0);
  if (fromEnv) {
    files.push(fromEnv[0]);
    extraCas.push(fromEnv[1]);
  }
  return {
    // Giving `ca` replaces node's roots, so they are added back: extra CAs extend trust, never narrow it.
    ca: extraCas.length > 0 ? [...rootCertificates, ...extraCas] : undefined,
    cert,
    key,
    files,
  };
}

/**
 * Connection options for `material`: one secure context, made here once per registry client,
 * since making one parses every CA (tens of milliseconds with a system bundle), which `ca` strings
 * in the options would repeat for every connection. Empty when node's defaults apply.
 */
export function tlsConnectOptions(material: TlsMaterial): { secureContext?: SecureContext } {
  if (material.ca === undefined && material.cert === undefined) return {};
  return { secureContext: createSecureContext({ ca: material.ca, cert: material.cert, key: material.key }) };
}

let fetchTrust: Promise<void> | undefined;

/**
 * Makes undici's global dispatcher (used by fetch(), e.g. for ADD https://...) trust the CAs that
 * bin/tsbuild took from NODE_EXTRA_CA_CERTS, as node would have. Once per process; nothing when
 * there are none. Call it before the first fetch().
 */
export function trustExtraCasInFetch(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  fetchTrust ??= (async () => {
    const extra = await envExtraCas(env, false);
    if (!extra) return;
    const { Agent, setGlobalDispatcher } = await import('undici');
    setGlobalDispatcher(new Agent({ connect: { secureContext: createSecureContext({ ca: [...rootCertificates, extra[1]] }) } }));
  })();
  return fetchTrust;
}
