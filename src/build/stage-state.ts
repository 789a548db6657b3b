// The state of one stage while it builds: the image so far (config + layers), the cache key chain,
// and the ARG scope. Variable lookup follows the Dockerfile reference: ENV wins over ARG.
import type { LayerRef } from '../image/image.js';
import { DEFAULT_PATH, hostPlatform, type ImageConfig } from '../oci/types.js';

export interface StageState {
  config: ImageConfig;
  layers: LayerRef[];
  /** Cache key of the state so far; every step derives its key from it. */
  key: string;
  /** ARGs declared in this stage, with their values (undefined: declared without value). */
  args: Map<string, string | undefined>;
  /** Time of the newest layer, used for metadata-only history entries so cached rebuilds are identical. */
  created: string;
  /**
   * Layers and history entries of the image the stage chain started from (FROM image, scratch):
   * what --squash keeps and --timestamp leaves dated as it was. Set when the stage starts.
   */
  baseLayerCount?: number;
  baseHistoryCount?: number;
  /** Proxy build args (HTTP_PROXY, ...): in RUN's environment, never in a cache key or the image. */
  proxies?: ReadonlyMap<string, string>;
}

export const DEFAULT_SHELL = ['/bin/sh', '-c'];

/**
 * Values of the automatic ARGs (usable once declared with ARG, as in BuildKit): the platform args,
 * the target's from --platform when given, and TARGETSTAGE when the target stage is known.
 */
export function platformArgs(target?: { os: string; architecture: string; variant?: string }, targetStage?: string): Map<string, string> {
  const p = hostPlatform();
  const t = target ?? p;
  const join = (x: { os: string; architecture: string; variant?: string }) => [x.os, x.architecture, x.variant].filter(Boolean).join('/');
  const args = new Map([
    ['TARGETPLATFORM', join(t)],
    ['TARGETOS', t.os],
    ['TARGETARCH', t.architecture],
    ['TARGETVARIANT', t.variant ?? ''],
    ['BUILDPLATFORM', join(p)],
    ['BUILDOS', p.os],
    ['BUILDARCH', p.architecture],
    ['BUILDVARIANT', ''],
  ]);
  if (targetStage !== undefined) args.set('TARGETSTAGE', targetStage);
  return args;
}

const PROXY_ARGS = new Set(['http_proxy', 'https_proxy', 'ftp_proxy', 'no_proxy', 'all_proxy']);

/** The predefined proxy ARGs: usable in RUN without a declaration, kept out of cache keys and the image. */
export function isProxyArg(name: string): boolean {
  return PROXY_ARGS.has(name.toLowerCase());
}

export function envMap(config: ImageConfig): Map<string, string> {
  const env = new Map<string, string>();
  for (const entry of config.config.Env ?? []) {
    const eq = entry.indexOf('=');
    if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
    else env.set(entry, '');
  }
  return env;
}

/** Sets one variable; an existing one keeps its place in the list (BuildKit's addEnv). */
export function setEnv(config: ImageConfig, key: string, value: string): void {
  const entry = `${key}=${value}`;
  const env = config.config.Env ?? [];
  const named = (e: string): boolean => e === key || e.startsWith(`${key}=`);
  config.config.Env = env.some(named) ? env.map((e) => (named(e) ? entry : e)) : [...env, entry];
}

/** Looks a variable up for expansion: ENV first, then the ARGs in scope. */
export function variableLookup(state: StageState): (name: string) => string | undefined {
  const env = envMap(state.config);
  return (name) => env.get(name) ?? state.args.get(name);
}

/**
 * The environment a RUN step sees: ARG values (as docker/buildah pass them), overridden by ENV.
 * Undeclared proxy args only with `proxies` (the container's, not the cache key's, environment).
 */
export function runEnvironment(state: StageState, options: { proxies?: boolean } = {}): string[] {
  const env = envMap(state.config);
  const out: string[] = [];
  for (const [name, value] of state.args) {
    if (value !== undefined && !env.has(name)) out.push(`${name}=${value}`);
  }
  if (options.proxies) {
    for (const [name, value] of state.proxies ?? []) {
      if (!state.args.has(name) && !env.has(name)) out.push(`${name}=${value}`);
    }
  }
  for (const [name, value] of env) out.push(`${name}=${value}`);
  if (!env.has('PATH')) out.push(`PATH=${DEFAULT_PATH}`);
  return out;
}

export function cloneConfig(config: ImageConfig): ImageConfig {
  return structuredClone(config);
}

export function emptyConfig(): ImageConfig {
  const p = hostPlatform();
  return { architecture: p.architecture, os: p.os, config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] };
}
