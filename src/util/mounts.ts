// What is mounted where, as this process sees it (/proc/self/mounts): how a mount that outlives the
// process that made it (a container's rootfs, a crashed build's overlay) is found again.
import { readFile } from 'node:fs/promises';

export async function mountedTargets(): Promise<Set<string>> {
  const text = await readFile('/proc/self/mounts', 'utf8').catch(() => '');
  // Mount points are octal-escaped in /proc/mounts (space = \040).
  return new Set(text.split('\n').map((l) => (l.split(' ')[1] ?? '').replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))));
}

export async function isMounted(target: string): Promise<boolean> {
  return (await mountedTargets()).has(target);
}
