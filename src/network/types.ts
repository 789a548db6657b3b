// The network model: a network record as stored under <root>/networks/<name>.json and the options
// `network create` takes. Split from index.ts so the helper modules can share it without cycles.

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

export const DEFAULT_NETWORK = 'tsbuild';
export const DEFAULT_BRIDGE = 'tsbuild0';
export const DEFAULT_SUBNET = '10.89.0.0/24';
/** Debian's containernetworking-plugins. */
export const CNI_PATH = '/usr/lib/cni';
