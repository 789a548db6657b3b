// What is mounted where, as this process sees it (/proc/self/mounts): how a mount that outlives the
// process that made it (a container's rootfs, a crashed build's overlay) is found again.
import { readTextOrEmpty } from './fs.js';

export async function mountedTargets(): Promise<Set<string>> {
  // Synchronously: a few KB, read several times per command (util/fs.ts says why). No /proc:
  // nothing is known to be mounted.
  const text = readTextOrEmpty('/proc/self/mounts');
  // Mount points are octal-escaped in /proc/mounts (space = \040).
  return new Set(text.split('\n').map((l) => (l.split(' ')[1] ?? '').replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))));
}

export async function isMounted(target: string): Promise<boolean> {
  return (await mountedTargets()).has(target);
}
