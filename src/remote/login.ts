// `login` and `logout`: credentials are checked against the registry (GET /v2/ with them) before
// they are saved to the auth file (0600, see credentials.ts); logout only edits the file.
import { TsbuildError } from '../errors.js';
import type { Logger } from '../log.js';
import { createRegistryClient } from './client.js';
import type { RegistryFlags } from './connect.js';
import { removeCredentials, saveCredentials } from './credentials.js';
import { isValidRegistryHost } from './reference.js';
import { loadRegistriesConf } from './registries-conf.js';
import type { Credentials } from './types.js';

/** "https://host:5000/ns/" or "docker://host/ns" -> "host:5000/ns": the key podman writes. */
export function registryKey(input: string): string {
  const key = input.replace(/^(?:https?|docker):\/\//, '').replace(/\/+$/, '');
  const host = key.split('/')[0] ?? '';
  if (!isValidRegistryHost(host)) {
    throw new TsbuildError('INVALID_ARGUMENT', `"${input}" is not a registry (expected host[:port], optionally followed by /namespace)`);
  }
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? `docker.io${key.slice(host.length)}` : key;
}

export interface LoginOptions extends Omit<RegistryFlags, 'creds'> {
  logger: Logger;
  signal?: AbortSignal;
}

/** Checks `credentials` against the registry and saves them; returns the auth file written. */
export async function login(registry: string, credentials: Credentials, options: LoginOptions): Promise<string> {
  const key = registryKey(registry);
  const host = key.split('/')[0]!;
  const conf = await loadRegistriesConf();
  const settings = conf.settingsFor({ registry: host, repository: 'library/login', tag: 'latest' });
  if (settings.blocked) throw new TsbuildError('REGISTRY', `login ${host}: the registry is blocked in registries.conf`);
  const client = createRegistryClient({
    registry: host,
    // Credentials belong to the host the user named; a registries.conf location rewrite is for images.
    settings: { ...settings, location: host, insecure: options.tlsVerify === undefined ? settings.insecure : !options.tlsVerify },
    credentials,
    logger: options.logger,
    certsDirs: options.certDir !== undefined ? [options.certDir] : undefined,
    signal: options.signal,
  });
  try {
    await client.ping();
  } catch (err) {
    if (err instanceof TsbuildError && err.code === 'UNAUTHORIZED') {
      throw new TsbuildError('UNAUTHORIZED', `login to ${host} failed: invalid username or password`, { cause: err });
    }
    throw err;
  } finally {
    await client.close().catch(() => undefined);
  }
  return saveCredentials(key, credentials, { authfile: options.authfile });
}

/** Removes saved credentials; NOT_FOUND when there were none for `registry`. */
export async function logout(registry: string | undefined, options: { authfile?: string; all?: boolean }): Promise<void> {
  if (options.all) {
    await removeCredentials('', { authfile: options.authfile, all: true });
    return;
  }
  if (registry === undefined) throw new TsbuildError('INVALID_ARGUMENT', 'logout: name a registry, or use --all');
  const key = registryKey(registry);
  if (!(await removeCredentials(key, { authfile: options.authfile }))) {
    throw new TsbuildError('NOT_FOUND', `not logged into ${key}`);
  }
}
