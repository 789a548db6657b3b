// STUB (skeleton for issue 5): the network helper replaces this file with the real manager.
// The interface below is the contract the container lifecycle codes against.
import type { Stores } from '../store/root.js';
import type { ContainerRecord, NetworkState } from '../container/types.js';

export interface NetworkRecord {
  name: string;
  id: string;
  driver: 'bridge';
  /** Linux bridge device, e.g. tsbuild0. */
  bridge: string;
  subnet: string;
  gateway: string;
  internal: boolean;
  labels: Record<string, string>;
  created: string;
}

export interface NetworkCreateOptions {
  subnet?: string;
  gateway?: string;
  internal?: boolean;
  labels?: Record<string, string>;
}

export interface NetworkManager {
  create(name: string, options?: NetworkCreateOptions): Promise<NetworkRecord>;
  list(): Promise<NetworkRecord[]>;
  /** By name or ID (prefix); NOT_FOUND if absent. The default network 'tsbuild' is created on first use. */
  get(ref: string): Promise<NetworkRecord>;
  remove(ref: string, options?: { force?: boolean }): Promise<void>;
  /** Removes networks no container uses (never the default); returns their names. */
  prune(): Promise<string[]>;
  /**
   * For a container about to start: mode bridge creates its network namespace and attaches every
   * requested network (CNI ADD: bridge + host-local + portmap); host/none/container return the
   * matching state. On failure everything done so far is undone and a TsbuildError (exit 125) thrown.
   */
  setUp(record: ContainerRecord): Promise<NetworkState>;
  /** CNI DEL of every attachment, then the namespace is deleted; idempotent and tolerant of missing parts. */
  tearDown(record: ContainerRecord): Promise<void>;
  connect(record: ContainerRecord, network: string, aliases: string[]): Promise<NetworkState>;
  disconnect(record: ContainerRecord, network: string): Promise<NetworkState>;
  /** Rewrites (in place) the /etc/hosts of every running container on these networks, so names stay current. */
  refreshHosts(networks: readonly string[]): Promise<void>;
}

export function createNetworkManager(_stores: Stores): NetworkManager {
  throw new Error('network manager not merged yet');
}
