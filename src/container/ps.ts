// `ps`: the settled containers, filtered (--filter name=/status=/id=/label=) and sorted newest first.
import { TsbuildError } from '../errors.js';
import type { Stores } from '../store/root.js';
import { listContainers } from './records.js';
import type { ContainerRecord } from './types.js';
import { byCodeUnit } from '../util/order.js';

export interface PsOptions {
  all: boolean;
  filters: string[];
  /** Working containers (tsbuild from) too, as podman ps --external shows buildah's. */
  external?: boolean;
}

export async function psContainers(stores: Stores, options: PsOptions): Promise<ContainerRecord[]> {
  const match = parseFilters(options.filters);
  const all = await listContainers(stores);
  return all
    .filter((r) => r.kind === 'container' || options.external)
    .filter((r) => options.all || r.state === 'running' || options.filters.some((f) => f.startsWith('status=')))
    .filter(match)
    .sort((a, b) => byCodeUnit(b.created, a.created));
}

const STATUSES = new Set(['created', 'running', 'exited', 'paused', 'restarting', 'removing', 'stopped', 'unknown']);

/** Filters of one key are ORed, different keys ANDed (podman's rule). */
export function parseFilters(filters: readonly string[]): (r: ContainerRecord) => boolean {
  const byKey = new Map<string, string[]>();
  for (const f of filters) {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new TsbuildError('INVALID_ARGUMENT', `invalid filter "${f}": expected KEY=VALUE`, { exitCode: 125 });
    const key = f.slice(0, eq);
    const value = f.slice(eq + 1);
    if (!['name', 'status', 'id', 'label', 'ancestor'].includes(key)) {
      throw new TsbuildError('INVALID_ARGUMENT', `invalid filter "${f}": supported keys are name, status, id, label and ancestor`, { exitCode: 125 });
    }
    if (key === 'status' && !STATUSES.has(value)) throw new TsbuildError('INVALID_ARGUMENT', `invalid filter "${f}": unknown status`, { exitCode: 125 });
    byKey.set(key, [...(byKey.get(key) ?? []), value]);
  }
  const tests: Record<string, (r: ContainerRecord, v: string) => boolean> = {
    // podman matches names as regular expressions.
    name: (r, v) => safeRegExp(v).test(r.name),
    id: (r, v) => r.id.startsWith(v),
    status: (r, v) => (v === 'stopped' ? r.state === 'exited' : r.state === v),
    label: (r, v) => {
      const eq = v.indexOf('=');
      return eq < 0 ? v in r.config.labels : r.config.labels[v.slice(0, eq)] === v.slice(eq + 1);
    },
    ancestor: (r, v) => r.image === v || r.image.startsWith(`${v}:`) || r.imageId.replace(/^sha256:/, '').startsWith(v.replace(/^sha256:/, '')),
  };
  return (r) => [...byKey].every(([key, values]) => values.some((v) => tests[key]!(r, v)));
}

function safeRegExp(v: string): RegExp {
  try {
    return new RegExp(v);
  } catch {
    return new RegExp(v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  }
}
