// TLS material for one registry, found the way containers/image and docker find it: in each certs
// directory, the sub-directory named after the registry's host[:port] holds `*.crt` files (extra CA
// certificates, added to the default roots) and `*.cert` + `*.key` pairs (client certificates).
// A directory given directly (podman's --cert-dir) holds those files itself, so both are read.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { rootCertificates } from 'node:tls';
import { errnoCode, TsbuildError } from '../errors.js';

export const DEFAULT_CERTS_DIRS = ['/etc/containers/certs.d', '/etc/docker/certs.d'];

export interface TlsMaterial {
  /** Default roots plus the extra CAs; undefined when there are no extra CAs (node's defaults apply). */
  ca?: string[];
  cert?: string;
  key?: string;
  /** The files used, for debug logs. */
  files: string[];
}

async function listDir(dir: string): Promise<string[]> {
  try {
    // Only files: the base directories hold one sub-directory per host, which are not certificates.
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isFile() || e.isSymbolicLink()).map((e) => e.name).sort();
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw new TsbuildError('IO', `cannot read certificates directory ${dir}: ${code ?? String(err)}`, { cause: err });
  }
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new TsbuildError('IO', `cannot read certificate file ${file}: ${errnoCode(err) ?? String(err)}`, { cause: err });
  }
}

/** Reads the CA and client certificates for `hosts` (host[:port] names, e.g. the location and the registry name). */
export async function loadTlsMaterial(certsDirs: readonly string[], hosts: readonly string[]): Promise<TlsMaterial> {
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
  return {
    // Giving `ca` replaces node's roots, so they are added back: extra CAs extend trust, never narrow it.
    ca: extraCas.length > 0 ? [...rootCertificates, ...extraCas] : undefined,
    cert,
    key,
    files,
  };
}
