// Platforms a build may name (bud --platform, FROM --platform): only the host's. There is no
// emulation and no pull of another platform's image, and building the host's image under another
// platform's name would be a lie.
import { TsbuildError } from '../errors.js';
import { hostPlatform, type Platform } from '../oci/types.js';

const ARCH_ALIASES: Record<string, string> = { x86_64: 'amd64', x86: '386', aarch64: 'arm64', armhf: 'arm' };

/**
 * The platform `spec` names (os/arch[/variant], as BuildKit normalises it) when it is the host's;
 * otherwise an INVALID_ARGUMENT error starting with `what`.
 */
export function hostTargetPlatform(spec: string, what: string): Platform {
  const host = hostPlatform();
  const parts = spec.trim().toLowerCase().split('/');
  const [os, rawArch, rawVariant] = parts;
  const arch = rawArch === undefined ? host.architecture : (ARCH_ALIASES[rawArch] ?? rawArch);
  // arm64's only variant is v8, which BuildKit leaves out when normalising.
  const variant = rawVariant === undefined || rawVariant === '' || (arch === 'arm64' && rawVariant === 'v8') ? undefined : rawVariant;
  const only = `only the host platform (${host.os}/${host.architecture}) can be built`;
  if (spec.includes(',')) throw new TsbuildError('INVALID_ARGUMENT', `${what}: one platform at a time: ${only}`);
  if (parts.length > 3 || os !== host.os || arch !== host.architecture || variant !== undefined) {
    throw new TsbuildError('INVALID_ARGUMENT', `${what}: ${only}`);
  }
  return { os: host.os, architecture: host.architecture };
}
