// Images a build reads (FROM, COPY --from): found locally or pulled, as the build's --pull policy
// says. The registry code is imported only when a registry is needed, so builds from local images
// do not pay for loading it; two stages naming one image share one pull.
import { TsbuildError, isTsbuildError } from '../errors.js';
import type { ImageRecord } from '../image/store.js';
import { leaseImage } from '../store/references.js';
import type { BuildSession } from './session.js';

/** The image, leased for the rest of the build (store/lease.ts), so no prune removes it meanwhile. */
export async function findBuildImage(session: BuildSession, ref: string, what: string): Promise<ImageRecord> {
  const record = await findUnleased(session, ref, what);
  await leaseImage(session.stores, record, `${what} "${ref}"`);
  return record;
}

async function findUnleased(session: BuildSession, ref: string, what: string): Promise<ImageRecord> {
  const { stores, options } = session;
  const policy = options.pull?.policy ?? 'missing';
  if (policy === 'missing' || policy === 'never') {
    const local = await stores.images.find(ref);
    if (local) return local;
    if (policy === 'never') {
      throw new TsbuildError('NOT_FOUND', `${what} "${ref}" not found in local storage (--pull=never)`, {
        hint: 'pull it first with "tsbuild pull", or build with --pull=missing',
      });
    }
  }
  let pending = session.pulls.get(ref);
  if (!pending) {
    pending = (async () => {
      const { resolveImage } = await import('../remote/policy.js');
      return resolveImage(stores, ref, {
        ...options.pull?.flags,
        policy,
        progress: options.pull?.progress,
        logger: stores.logger,
        signal: options.signal,
      });
    })();
    session.pulls.set(ref, pending);
  }
  try {
    return await pending;
  } catch (err) {
    if (!isTsbuildError(err)) throw err;
    // 'image "x" not found...' reads better as 'base image "x" not found...' than nested.
    const own = `image "${ref}" `;
    const message = err.message.startsWith(own) ? `${what} "${ref}" ${err.message.slice(own.length)}` : `${what} "${ref}": ${err.message}`;
    throw new TsbuildError(err.code, message, { hint: err.hint, cause: err, exitCode: err.exitCode });
  }
}
