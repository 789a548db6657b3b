// Fixtures for the network tests: a private root opened as stores, fake container records (the
// lifecycle is not needed to exercise the manager), and the host views a user would check.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { containerPaths } from '../../../src/container/paths.js';
import { defaultConfig, type ContainerRecord, type NetworkRequest } from '../../../src/container/types.js';
import { silentLogger } from '../../../src/log.js';
import { openStores, type Stores } from '../../../src/store/root.js';
import { writeJsonAtomic } from '../../../src/util/fs.js';

export async function openTestStores(): Promise<Stores> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'tsbuild-net-'));
  return openStores({ root, logger: silentLogger() });
}

export function fakeRecord(name: string, network: Partial<NetworkRequest> = {}): ContainerRecord {
  const config = defaultConfig();
  config.network = { ...config.network, ...network };
  return {
    id: randomBytes(32).toString('hex'),
    name,
    kind: 'container',
    image: 'busybox',
    imageId: 'sha256:0',
    created: new Date().toISOString(),
    state: 'created',
    config,
  };
}

/** Writes the record where the manager (and the lifecycle) read them. */
export async function saveRecord(stores: Stores, record: ContainerRecord): Promise<void> {
  const paths = containerPaths(stores, record.id);
  await mkdir(paths.dir, { recursive: true });
  await writeJsonAtomic(paths.record, record);
}

export function sh(argv: string[]): string {
  return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function inNetns(namespace: string, argv: string[]): string {
  return sh(['nsenter', `--net=${namespace}`, ...argv]);
}

export function iptablesSave(): string {
  return sh(['iptables-save']);
}

export function links(): string {
  return sh(['ip', '-o', 'link']);
}

export async function ipamFiles(network: string): Promise<string[]> {
  return (await readdir(path.join('/run/tsbuild/ipam', network)).catch(() => [] as string[])).filter((n) => /^\d+\.\d+\.\d+\.\d+$/.test(n));
}

export function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout fetching ${url}`)));
    req.on('error', reject);
  });
}

export async function removeRoot(stores: Stores | undefined): Promise<void> {
  if (stores) await rm(stores.layout.root, { recursive: true, force: true });
}
