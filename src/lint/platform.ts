// Just enough of containerd's platforms.Parse for FromPlatformFlagConstDisallowed: the OS and the
// normalised architecture of a platform specifier, or undefined where containerd would fail.
import { hostPlatform } from '../oci/types.js';

const KNOWN_OS = new Set([
  'aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'hurd', 'illumos', 'ios', 'js', 'linux', 'nacl',
  'netbsd', 'openbsd', 'plan9', 'solaris', 'windows', 'zos',
]);
const KNOWN_ARCH = new Set([
  '386', 'amd64', 'amd64p32', 'arm', 'armbe', 'arm64', 'arm64be', 'loong64', 'mips', 'mipsle', 'mips64',
  'mips64le', 'mips64p32', 'mips64p32le', 'ppc', 'ppc64', 'ppc64le', 'riscv', 'riscv64', 's390', 's390x',
  'sparc', 'sparc64', 'wasm',
]);
const ARCH_ALIASES: Record<string, string> = { i386: '386', x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', armhf: 'arm', armel: 'arm' };

export interface ParsedPlatform {
  os: string;
  architecture: string;
}

export function parsePlatform(specifier: string): ParsedPlatform | undefined {
  const parts = specifier.toLowerCase().split('/');
  if (parts.length > 3 || parts.some((p) => !/^[a-z0-9_-]+$/.test(p))) return undefined;
  const normalizeOs = (os: string): string => (os === 'macos' ? 'darwin' : os);
  const normalizeArch = (arch: string): string => ARCH_ALIASES[arch] ?? arch;
  const host = hostPlatform();
  const [first, second] = parts as [string, string | undefined];
  if (second !== undefined) return { os: normalizeOs(first), architecture: normalizeArch(second) };
  if (KNOWN_OS.has(normalizeOs(first))) return { os: normalizeOs(first), architecture: host.architecture };
  if (KNOWN_ARCH.has(normalizeArch(first))) return { os: host.os, architecture: normalizeArch(first) };
  return undefined;
}
