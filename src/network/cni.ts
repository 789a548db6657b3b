// CNI plugin invocation (spec 1.0.0): each plugin of a network's chain is executed with the
// CNI_* environment and its configuration on stdin; ADD passes each result on as the next plugin's
// prevResult, DEL runs the chain in reverse with the final ADD result. Every attachment is cached
// in <root>/networks/cache/<container id>/<network>.json *before* the first plugin runs, so a DEL is
// always possible (after a crash mid-ADD, after a failed start, after the network record is gone).
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { TsbuildError } from '../errors.js';
import type { Stores } from '../store/root.js';
import { execFile } from '../util/exec.js';
import { listNames, pathExists, readJson, readTextOrEmpty, removeEmptyDir, writeJsonAtomic, type AtomicWriteOptions } from '../util/fs.js';
import type { CniConflist } from './ipam.js';
import { netnsPath } from './netns.js';
import { ALLOCATION_FILE, IPAM_DIR, networksDir } from './records.js';
import { CNI_PATH } from './types.js';

export { IPAM_DIR } from './records.js';

export interface CniInterface {
  name: string;
  mac?: string;
  sandbox?: string;
}

export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: { address: string; gateway?: string; interface?: number }[];
  routes?: { dst: string; gw?: string }[];
  dns?: unknown;
}

export interface CniPortMapping {
  hostPort: number;
  containerPort: number;
  protocol: string;
  hostIP?: string;
}

/** One container interface on one network, as cached for its DEL. */
export interface CniAttachment {
  containerId: string;
  network: string;
  ifname: string;
  netns: string;
  conflist: CniConflist;
  portMappings: CniPortMapping[];
  /** The final ADD result; absent while (or when) the ADD did not complete. */
  result?: CniResult;
  /**
   * The process a record-less attachment (a bud RUN's) belongs to: when it has died (SIGKILL
   * mid-RUN) nobody else knows the attachment exists, so releaseOrphanedAttachments DELs it.
   */
  ownerPid?: number;
}

export function cacheDir(stores: Stores, containerId: string): string {
  return path.join(networksDir(stores), 'cache', containerId);
}

function cacheFile(stores: Stores, containerId: string, network: string): string {
  return path.join(cacheDir(stores, containerId), `${network}.json`);
}

export async function cachedAttachments(stores: Stores, containerId: string): Promise<CniAttachment[]> {
  const dir = cacheDir(stores, containerId);
  const names = listNames(dir);
  const entries = await Promise.all(names.filter((n) => n.endsWith('.json')).map((n) => readJson<CniAttachment>(path.join(dir, n)).catch(() => undefined)));
  return entries.filter((e): e is CniAttachment => e !== undefined);
}

function pluginConfig(list: CniConflist, plugin: CniConflist['plugins'][number], portMappings: CniPortMapping[], prevResult?: CniResult): Record<string, unknown> {
  const config: Record<string, unknown> = { ...plugin, cniVersion: list.cniVersion, name: list.name };
  const capabilities = plugin.capabilities as Record<string, boolean> | undefined;
  if (capabilities?.portMappings) config.runtimeConfig = { portMappings };
  if (prevResult) config.prevResult = prevResult;
  return config;
}

async function execPlugin(command: 'ADD' | 'DEL' | 'CHECK', attachment: CniAttachment, config: Record<string, unknown>): Promise<CniResult | undefined> {
  const type = String(config.type);
  const env = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: command,
    CNI_CONTAINERID: attachment.containerId,
    CNI_NETNS: attachment.netns,
    CNI_IFNAME: attachment.ifname,
    CNI_PATH,
  };
  // Plugins report failures as a JSON error on stdout with a non-zero status; read it ourselves.
  const anyStatus = Array.from({ length: 255 }, (_, i) => i + 1);
  const { exitCode, stdout, stderr } = await execFile([path.join(CNI_PATH, type)], { env, input: JSON.stringify(config), allowExitCodes: anyStatus });
  if (exitCode !== 0) {
    let message = stderr || `exited with status ${exitCode}`;
    try {
      const err = JSON.parse(stdout) as { msg?: string; details?: string };
      if (err.msg) message = err.details ? `${err.msg}: ${err.details}` : err.msg;
    } catch {
      // Not JSON: the stderr tail is the best we have.
    }
    throw new TsbuildError('RUNTIME', `CNI plugin ${type} failed (${command} on network "${attachment.network}"): ${message}`, { exitCode: 125 });
  }
  if (command !== 'ADD') return undefined;
  try {
    return JSON.parse(stdout) as CniResult;
  } catch (cause) {
    throw new TsbuildError('RUNTIME', `CNI plugin ${type} printed no valid result on network "${attachment.network}"`, { cause, exitCode: 125 });
  }
}

/**
 * Runs the ADD chain; on failure the whole chain is DELeted, the cache entry dropped, and the error
 * thrown. `write` says whether the cache entry is fsynced (not for a `run --rm` container's).
 */
export async function cniAdd(stores: Stores, attachment: CniAttachment, write: AtomicWriteOptions = {}): Promise<CniResult> {
  mkdirSync(cacheDir(stores, attachment.containerId), { recursive: true });
  await writeJsonAtomic(cacheFile(stores, attachment.containerId, attachment.network), attachment, undefined, write);
  let result: CniResult | undefined;
  try {
    for (const plugin of attachment.conflist.plugins) {
      result = await execPlugin('ADD', attachment, pluginConfig(attachment.conflist, plugin, attachment.portMappings, result));
    }
  } catch (err) {
    await cniDel(stores, { ...attachment, result });
    throw err;
  }
  const done = { ...attachment, result: result! };
  await writeJsonAtomic(cacheFile(stores, attachment.containerId, attachment.network), done, undefined, write);
  return result!;
}

/**
 * Runs the DEL chain (last plugin first). Failures are returned, not thrown: tear-down goes on with
 * the other plugins, and the cache entry stays so a later tear-down tries again.
 */
export async function cniDel(stores: Stores, attachment: CniAttachment): Promise<Error[]> {
  const errors: Error[] = [];
  const netns = (await pathExists(attachment.netns)) ? attachment.netns : '';
  for (const plugin of [...attachment.conflist.plugins].reverse()) {
    try {
      await execPlugin('DEL', { ...attachment, netns }, pluginConfig(attachment.conflist, plugin, attachment.portMappings, attachment.result));
    } catch (err) {
      errors.push(err as Error);
    }
  }
  if (errors.length === 0) {
    rmSync(cacheFile(stores, attachment.containerId, attachment.network), { force: true });
    // Kept while another network's entry is still there.
    removeEmptyDir(cacheDir(stores, attachment.containerId));
  }
  return errors;
}

/**
 * Drops host-local allocations whose container is gone: every address tsbuild allocates belongs to
 * a container whose namespace /run/netns/tsbuild-<id12> exists from before the ADD until after the
 * DEL, so an allocation without one is a leftover of a crash or of a deleted test root.
 */
export async function collectStaleAddresses(network: string): Promise<void> {
  const dir = path.join(IPAM_DIR, network);
  const names = listNames(dir);
  for (const name of names) {
    if (!ALLOCATION_FILE.test(name)) continue;
    const owner = readTextOrEmpty(path.join(dir, name)).split(/\s/)[0] ?? '';
    if (!/^[a-f0-9]{12,}$/.test(owner)) continue;
    if (!(await pathExists(netnsPath(owner)))) rmSync(path.join(dir, name), { force: true });
  }
}

/** The address the chain gave to `ifname` inside the namespace. */
export function attachmentOf(result: CniResult, ifname: string): { ip: string; prefixLength: number; gateway: string; mac: string } {
  const interfaces = result.interfaces ?? [];
  const index = interfaces.findIndex((i) => i.name === ifname && i.sandbox);
  const ip = (result.ips ?? []).find((a) => a.interface === index) ?? (result.ips ?? [])[0];
  if (!ip) throw new TsbuildError('RUNTIME', `the CNI result for ${ifname} holds no IP address`, { exitCode: 125 });
  const [address, prefix] = ip.address.split('/');
  return { ip: address!, prefixLength: Number(prefix), gateway: ip.gateway ?? '', mac: interfaces[index]?.mac ?? '' };
}
