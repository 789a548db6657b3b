// The per-container files bind-mounted over /etc/hosts, /etc/resolv.conf and /etc/hostname, so a
// container (or a RUN step) resolves its own name and the host's DNS without changing its image.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { SpecMount } from '../runtime/index.js';

export async function writeHostFiles(dir: string, hostname: string): Promise<SpecMount[]> {
  await mkdir(dir, { recursive: true });
  const files: [string, string | Buffer][] = [
    ['/etc/hosts', `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${hostname}\n`],
    ['/etc/resolv.conf', await readFile('/etc/resolv.conf').catch(() => Buffer.from(''))],
    ['/etc/hostname', `${hostname}\n`],
  ];
  const mounts: SpecMount[] = [];
  for (const [destination, content] of files) {
    const source = path.join(dir, path.basename(destination));
    await writeFile(source, content);
    mounts.push({ destination, type: 'bind', source, options: ['rbind', 'rprivate'] });
  }
  return mounts;
}
