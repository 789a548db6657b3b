// Image locations as containers/image spells them ("transports"): `docker://REF` or a bare reference
// for a registry, `oci:DIR[:REF]` for an OCI image-layout directory, `oci-archive:FILE[:REF]` and
// `docker-archive:FILE[:REF]` for archives. As in containers/image the path ends at the first ':'
// after the transport, so paths with colons cannot be named (a limitation shared with skopeo).
import { TsbuildError } from '../errors.js';

export type Location =
  | { transport: 'docker'; reference: string }
  | { transport: 'oci' | 'oci-archive' | 'docker-archive'; path: string; reference?: string };

const LOCAL_TRANSPORTS = ['oci', 'oci-archive', 'docker-archive'] as const;

export function parseLocation(input: string): Location {
  if (input.startsWith('docker://')) return { transport: 'docker', reference: input.slice('docker://'.length) };
  for (const transport of LOCAL_TRANSPORTS) {
    const prefix = `${transport}:`;
    if (!input.startsWith(prefix)) continue;
    const rest = input.slice(prefix.length);
    // "oci:5000/x" would be a registry on host "oci": nobody names a registry so, but a port after
    // the transport name is the only way to tell, and skopeo reads it as a path too.
    const colon = rest.indexOf(':');
    const path = colon === -1 ? rest : rest.slice(0, colon);
    const reference = colon === -1 ? undefined : rest.slice(colon + 1);
    if (path === '') throw new TsbuildError('INVALID_ARGUMENT', `"${input}": ${transport}: needs a path`);
    if (reference === '') throw new TsbuildError('INVALID_ARGUMENT', `"${input}": empty reference after the path`);
    return reference === undefined ? { transport, path } : { transport, path, reference };
  }
  if (/^[a-z][a-z0-9-]*:(?!\d)[^/]*$/.test(input) && !input.includes('/')) {
    // "containers-storage:x", "dir:x", ...: a transport we do not speak, not an image called "dir".
    const name = input.slice(0, input.indexOf(':'));
    if (['containers-storage', 'dir', 'docker-daemon', 'sif', 'ostree'].includes(name)) {
      throw new TsbuildError('INVALID_ARGUMENT', `"${input}": the ${name} transport is not supported`, {
        hint: 'use docker://, oci:, oci-archive: or docker-archive:',
      });
    }
  }
  return { transport: 'docker', reference: input };
}

export function formatLocation(location: Location): string {
  if (location.transport === 'docker') return `docker://${location.reference}`;
  return `${location.transport}:${location.path}${location.reference !== undefined ? `:${location.reference}` : ''}`;
}
