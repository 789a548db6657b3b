// Turning "a reference plus the user's flags" into a registry client: registries.conf decides where
// a reference really lives (prefix -> location rewriting), whether it is blocked, and whether TLS
// may be skipped; --tls-verify overrides the latter either way, as in podman. Credentials are
// looked up for the name the user wrote (podman's rule), not the rewritten location.
import type { Logger } from '../log.js';
import { TsbuildError } from '../errors.js';
import { createRegistryClient } from './client.js';
import { findCredentials } from './credentials.js';
import { formatReference } from './reference.js';
import { loadRegistriesConf, type RegistriesConf } from './registries-conf.js';
import type { ImageReference, RegistryClient, RegistrySettings } from './types.js';

/** The flags every registry command shares (podman's names). */
export interface RegistryFlags {
  /** "user:password" (--creds). */
  creds?: string;
  authfile?: string;
  /** undefined: as registries.conf says; false: plain HTTP or unverified TLS allowed; true: verify even where registries.conf says insecure. */
  tlsVerify?: boolean;
  /** A directory with ca.crt / client.cert / client.key for this registry (--cert-dir). */
  certDir?: string;
  /** Attempts of a failing request (bud --retry N is N+1) and a fixed delay between them (--retry-delay). */
  retries?: number;
  retryDelayMs?: number;
}

export interface ConnectOptions extends RegistryFlags {
  logger: Logger;
  signal?: AbortSignal;
  /** Loaded once per command and shared (pull tries several candidates). */
  conf?: RegistriesConf;
}

export interface Connection {
  client: RegistryClient & { close(): Promise<void> };
  /** The reference as contacted (after registries.conf rewriting). */
  ref: ImageReference;
  settings: RegistrySettings;
}

export async function connect(ref: ImageReference, options: ConnectOptions): Promise<Connection> {
  const conf = options.conf ?? (await loadRegistriesConf());
  const settings = conf.settingsFor(ref);
  if (settings.blocked) {
    throw new TsbuildError('REGISTRY', `${formatReference(ref)}: registry ${ref.registry} is blocked in registries.conf`);
  }
  const target = conf.rewrite(ref);
  const credentials = await findCredentials(`${ref.registry}/${ref.repository}`, { creds: options.creds, authfile: options.authfile });
  const effective: RegistrySettings = {
    ...settings,
    location: target.registry,
    insecure: options.tlsVerify === undefined ? settings.insecure : !options.tlsVerify,
  };
  const client = createRegistryClient({
    registry: target.registry,
    settings: effective,
    credentials,
    logger: options.logger,
    certsDirs: options.certDir !== undefined ? [options.certDir] : undefined,
    signal: options.signal,
    retries: options.retries,
    retryDelayMs: options.retryDelayMs,
  });
  return { client, ref: target, settings: effective };
}

/** Runs fn with a connection, closing it afterwards whatever happens. */
export async function withConnection<T>(ref: ImageReference, options: ConnectOptions, fn: (c: Connection) => Promise<T>): Promise<T> {
  const connection = await connect(ref, options);
  try {
    return await fn(connection);
  } finally {
    await connection.client.close().catch(() => undefined);
  }
}

/** Runs fn, making sure a failure's one line names the reference (network errors only know the host). */
export async function naming<T>(name: string, fn: () => Promise<T>, prefix = ''): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof TsbuildError) || err.message.includes(name)) throw err;
    throw new TsbuildError(err.code, `${prefix}${name}: ${err.message}`, { hint: err.hint, cause: err, exitCode: err.exitCode });
  }
}
