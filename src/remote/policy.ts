// Pull policies as podman and buildah have them, for `bud` (FROM, COPY --from) and `run`: which
// image a name means, and whether to ask a registry first. "localhost/..." names are local-only
// (podman's namespace for images that were built or loaded, not a registry), so no policy tries to
// pull them.
import { TsbuildError, isTsbuildError } from '../errors.js';
import { parseImageName } from '../image/names.js';
import type { ImageRecord } from '../image/store.js';
import type { Stores } from '../store/root.js';
import type { PullOptions } from './pull.js';
import { formatReference, isShortName, parseReference, referenceString } from './reference.js';
import { parseLocation } from './transports.js';

// The registry client (undici) and the puller are loaded only when a registry is asked: `run` of a
// local image (the common case) would otherwise spend ~130 ms of its start-up loading them.
// registries.conf (and its TOML parser) too: a local image by a localhost/ name never needs it.
async function loadRegistriesConf(): Promise<import('./registries-conf.js').RegistriesConf> {
  return (await import('./registries-conf.js')).loadRegistriesConf();
}

async function pullImage(...args: Parameters<typeof import('./pull.js').pullImage>): Promise<ImageRecord> {
  return (await import('./pull.js')).pullImage(...args);
}

export const PULL_POLICIES = ['always', 'missing', 'never', 'newer'] as const;
export type PullPolicy = (typeof PULL_POLICIES)[number];

/** `--pull` values: the four policies, plus buildah's booleans (true: always, false: missing). */
export function parsePullPolicy(value: string | boolean | undefined): PullPolicy {
  if (value === undefined || value === false) return 'missing';
  if (value === true || value === '') return 'always';
  const v = value.toLowerCase();
  if (v === 'true') return 'always';
  if (v === 'false') return 'missing';
  if ((PULL_POLICIES as readonly string[]).includes(v)) return v as PullPolicy;
  throw new TsbuildError('INVALID_ARGUMENT', `--pull=${value}: expected always, missing, never or newer`);
}

export interface ResolveOptions extends PullOptions {
  policy: PullPolicy;
}

/** The local image `ref` names under `policy`, pulling it first when the policy says so. */
export async function resolveImage(stores: Stores, ref: string, options: ResolveOptions): Promise<ImageRecord> {
  const location = parseLocation(ref);
  // oci:, oci-archive: and docker-archive: sources are read each time: there is nothing to compare.
  if (location.transport !== 'docker') return pullImage(stores, ref, options);
  const local = await stores.images.find(location.reference);
  if (isLocalOnly(location.reference, local)) {
    if (local) return local;
    throw new TsbuildError('NOT_FOUND', `image "${ref}" not found in local storage`, { hint: 'build it, or load it with "tsbuild load"' });
  }
  if (!isPullable(location.reference)) {
    // An image ID, or a name only local storage can have: there is nothing to ask a registry for.
    if (local) return local;
    throw new TsbuildError('NOT_FOUND', `image "${ref}" not found in local storage`);
  }
  if (options.policy !== 'never' && !(options.policy === 'newer' && local) && isShortName(location.reference)) {
    const conf = await loadRegistriesConf();
    if (conf.resolveShortName(location.reference).length === 0) {
      if (local) return local;
      throw new TsbuildError('NOT_FOUND', `image "${ref}" not found in local storage, and registries.conf has no unqualified-search-registries to pull a short name from`, {
        hint: 'use a fully qualified name (e.g. registry.example.com/team/app:1.0), or build or load the image',
      });
    }
  }
  switch (options.policy) {
    case 'never':
      if (local) return local;
      throw new TsbuildError('NOT_FOUND', `image "${ref}" not found in local storage and --pull=never forbids pulling it`, {
        hint: 'pull it first with "tsbuild pull", or use --pull=missing',
      });
    case 'missing':
      return local ?? pullImage(stores, location.reference, options);
    case 'always':
      return pullImage(stores, location.reference, options);
    case 'newer':
      if (local && !(await registryHasNewer(local, location.reference, options))) return local;
      return pullImage(stores, location.reference, options);
  }
}

function isPullable(reference: string): boolean {
  try {
    parseReference(reference);
    return true;
  } catch {
    return false;
  }
}

function isLocalOnly(reference: string, local: ImageRecord | undefined): boolean {
  try {
    if (!isShortName(reference)) return parseImageName(reference).domain === 'localhost';
  } catch {
    return false;
  }
  // A short name that found a "localhost/..." image means that image, as podman resolves it.
  return local !== undefined && local.names.some((n) => n.startsWith('localhost/'));
}

/**
 * Whether the registry's manifest digest for `reference` differs from the one the local image was
 * pulled as. An unreachable registry keeps the local image (podman's `newer`), with a warning.
 */
async function registryHasNewer(local: ImageRecord, reference: string, options: ResolveOptions): Promise<boolean> {
  const conf = await loadRegistriesConf();
  const { candidatesFor } = await import('./pull.js');
  const { withConnection } = await import('./connect.js');
  let candidates;
  try {
    candidates = candidatesFor(conf, reference);
  } catch {
    return false;
  }
  const known = local.repoDigests ?? [];
  const ref = candidates.find((c) => known.some((d) => d.startsWith(`${c.registry}/${c.repository}@`))) ?? candidates[0]!;
  const prefix = `${ref.registry}/${ref.repository}@`;
  try {
    const head = await withConnection(ref, { ...options, conf }, ({ client, ref: target }) => client.headManifest(target.repository, referenceString(target)));
    if (head === undefined) return false;
    return !known.includes(`${prefix}${head.digest}`);
  } catch (err) {
    if (options.signal?.aborted) throw err;
    const why = isTsbuildError(err) ? err.message : String(err);
    options.logger.warn({ ref: formatReference(ref) }, `cannot check the registry for a newer image, using the local one: ${why}`);
    return false;
  }
}
