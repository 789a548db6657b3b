// The per-container files bind-mounted over /etc/hosts, /etc/resolv.conf and /etc/hostname, so a
// container (or a RUN step) resolves its own name and the host's DNS without changing its image.
// bud's --no-hosts, --add-host and --dns* flags shape them as buildah's do.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SpecMount } from '../runtime/index.js';
import { readTextOrEmpty } from '../util/fs.js';

export interface HostFileOptions {
  /** --no-hosts: keep the image's own /etc/hosts. */
  noHosts?: boolean;
  /** --add-host NAME:IP lines, appended to /etc/hosts. */
  addHosts?: readonly { name: string; ip: string }[];
  /** --dns: nameservers instead of the host's; ['none'] keeps the image's own resolv.conf. */
  dns?: readonly string[];
  /** --dns-search: search domains instead of the host's. */
  dnsSearch?: readonly string[];
  /** --dns-option: resolver options instead of the host's. */
  dnsOptions?: readonly string[];
  /** The container's own address on its first network (bridge mode), for its hostname line. */
  selfIp?: string;
  /** The whole /etc/hosts (bridge mode: the network manager's, with the peers' names). */
  hostsContent?: string;
}

export async function writeHostFiles(dir: string, hostname: string, options: HostFileOptions = {}): Promise<SpecMount[]> {
  // A few small files, written synchronously (util/fs.ts says why).
  mkdirSync(dir, { recursive: true });
  const files: [string, string | Buffer][] = [];
  if (!options.noHosts) {
    const extra = (options.addHosts ?? []).map((h) => `${h.ip}\t${h.name}\n`).join('');
    files.push(['/etc/hosts', options.hostsContent ?? `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${options.selfIp ?? '127.0.1.1'}\t${hostname}\n${extra}`]);
  }
  if (!(options.dns?.length === 1 && options.dns[0] === 'none')) {
    files.push(['/etc/resolv.conf', resolvConf(readTextOrEmpty('/etc/resolv.conf'), options)]);
  }
  files.push(['/etc/hostname', `${hostname}\n`]);
  const mounts: SpecMount[] = [];
  for (const [destination, content] of files) {
    const source = path.join(dir, path.basename(destination));
    writeFileSync(source, content);
    mounts.push({ destination, type: 'bind', source, options: ['rbind', 'rprivate'] });
  }
  return mounts;
}

/** The host's resolv.conf with the nameserver, search and options lines the flags replace. */
function resolvConf(host: string, options: HostFileOptions): string {
  const replaced: [keyword: RegExp, values: readonly string[] | undefined, line: (v: readonly string[]) => string[]][] = [
    [/^nameserver\s/, options.dns, (v) => v.map((ip) => `nameserver ${ip}`)],
    [/^(search|domain)\s/, options.dnsSearch, (v) => (v.length === 1 && v[0] === '.' ? [] : [`search ${v.join(' ')}`])],
    [/^options\s/, options.dnsOptions, (v) => [`options ${v.join(' ')}`]],
  ];
  if (replaced.every(([, values]) => !values?.length)) return host;
  let lines = host.split('\n').filter((l) => l !== '');
  const added: string[] = [];
  for (const [keyword, values, line] of replaced) {
    if (!values?.length) continue;
    lines = lines.filter((l) => !keyword.test(l.trim()));
    added.push(...line(values));
  }
  const all = [...lines, ...added];
  return all.length === 0 ? '' : `${all.join('\n')}\n`;
}
