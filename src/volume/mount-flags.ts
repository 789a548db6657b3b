// The mount flags of run/create in podman's syntax, as MountSpecs: -v/--volume, --mount and
// --tmpfs. Pure (no disk access: whether a bind source exists is resolveMounts' business at
// create), so every form and every error is unit-tested. Errors name the offending value.
import path from 'node:path';
import { TsbuildError } from '../errors.js';
import type { MountSpec } from '../container/types.js';
import { VOLUME_NAME } from './store.js';

export interface MountFlags {
  volume?: readonly string[];
  mount?: readonly string[];
  tmpfs?: readonly string[];
}

const PROPAGATION = new Set(['shared', 'slave', 'private', 'rshared', 'rslave', 'rprivate']);
// Mount flags passed through to the bind mount as given.
const BIND_FLAGS = new Set(['exec', 'noexec', 'suid', 'nosuid', 'dev', 'nodev']);
const TMPFS_FLAGS = new Set(['exec', 'noexec', 'suid', 'nosuid', 'dev', 'nodev', 'ro', 'rw', 'noatime', 'relatime', 'strictatime']);

function bad(message: string): TsbuildError {
  return new TsbuildError('INVALID_ARGUMENT', message, { exitCode: 125 });
}

export function parseMountFlags(flags: MountFlags): MountSpec[] {
  const mounts: MountSpec[] = [
    ...(flags.volume ?? []).map(parseVolumeFlag),
    ...(flags.mount ?? []).map(parseMountFlag),
    ...(flags.tmpfs ?? []).map(parseTmpfsFlag),
  ];
  const seen = new Set<string>();
  for (const m of mounts) {
    if (seen.has(m.target)) throw bad(`duplicate mount destination ${m.target}`);
    seen.add(m.target);
  }
  return mounts;
}

/** An absolute container path, normalised ("/data/" and "/data/." are "/data"); "/" is refused. */
function containerTarget(target: string, flag: string): string {
  if (target === '') throw bad(`${flag}: missing the container path`);
  if (!path.posix.isAbsolute(target)) throw bad(`${flag}: container path "${target}" must be absolute`);
  const normalized = path.posix.normalize(target).replace(/(.)\/+$/, '$1');
  if (normalized === '/') throw bad(`${flag}: cannot mount over the container's root "/"`);
  return normalized;
}

/**
 * -v SOURCE:TARGET[:OPTIONS], -v TARGET[:OPTIONS] (an anonymous volume). A source starting with
 * "/" is a bind mount; otherwise it is a volume name.
 */
function parseVolumeFlag(value: string): MountSpec {
  const flag = `-v "${value}"`;
  const parts = value.split(':');
  if (parts.length > 3) throw bad(`${flag}: too many ":"-separated fields (SOURCE:TARGET:OPTIONS)`);
  let source: string | undefined;
  let target: string;
  let opts = '';
  if (parts.length === 1) {
    target = parts[0]!;
  } else if (parts.length === 2 && parts[0]!.startsWith('/') && !parts[1]!.startsWith('/')) {
    // "/data:ro": an anonymous volume with options (a volume name never starts with "/").
    [target, opts] = [parts[0]!, parts[1]!];
  } else {
    [source, target, opts = ''] = parts as [string, string, string?];
  }
  target = containerTarget(target, flag);
  if (parts.length === 3 && opts === '') throw bad(`${flag}: empty options after the last ":"`);

  let type: MountSpec['type'] = 'volume';
  if (source !== undefined) {
    if (source === '') throw bad(`${flag}: empty source`);
    if (source.startsWith('/')) type = 'bind';
    else if (source.startsWith('.') || source.startsWith('~')) throw bad(`${flag}: bind source path "${source}" must be absolute`);
    else if (!VOLUME_NAME.test(source)) throw bad(`${flag}: invalid volume name "${source}": use letters, digits, "_", "." and "-"`);
  }

  let readonly = false;
  let rwSeen = false;
  let roSeen = false;
  let propagation: string | undefined;
  let relabel: string | undefined;
  const options: string[] = [];
  for (const opt of opts.split(',').filter((o) => o !== '')) {
    if (opt === 'ro' || opt === 'rw') {
      if ((opt === 'ro' && rwSeen) || (opt === 'rw' && roSeen)) throw bad(`${flag}: "ro" and "rw" cannot both be given`);
      if (opt === 'ro') roSeen = true;
      else rwSeen = true;
      readonly = opt === 'ro';
    } else if (opt === 'z' || opt === 'Z') {
      if (relabel !== undefined && relabel !== opt) throw bad(`${flag}: "z" and "Z" cannot both be given`);
      relabel = opt;
      // Accepted for compatibility: there is no SELinux labelling here.
      options.push(opt);
    } else if (PROPAGATION.has(opt)) {
      if (propagation !== undefined) throw bad(`${flag}: more than one propagation option ("${propagation}", "${opt}")`);
      propagation = opt;
      options.push(opt);
    } else if (opt === 'nocopy') {
      if (type === 'bind') throw bad(`${flag}: "nocopy" applies to volumes, not bind mounts`);
      options.push(opt);
    } else if (opt === 'bind' || opt === 'rbind') {
      if (type !== 'bind') throw bad(`${flag}: "${opt}" applies to bind mounts only`);
      options.push(opt);
    } else if (BIND_FLAGS.has(opt)) {
      options.push(opt);
    } else if (opt === 'U') {
      throw bad(`${flag}: option "U" (chown to the container user) is not supported`);
    } else {
      throw bad(`${flag}: unknown option "${opt}"`);
    }
  }
  const spec: MountSpec = { type, source: source ?? '', target, readonly, options };
  if (source === undefined) spec.anonymous = true;
  return spec;
}

/** --mount type=bind|volume|tmpfs,source=..,target=..[,readonly][,...] (docker's keys). */
function parseMountFlag(value: string): MountSpec {
  const flag = `--mount "${value}"`;
  const fields = new Map<string, string | undefined>();
  for (const field of value.split(',')) {
    if (field === '') continue;
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    const canonical = { src: 'source', destination: 'target', dst: 'target', ro: 'readonly' }[key] ?? key;
    if (fields.has(canonical)) throw bad(`${flag}: "${key}" given twice`);
    fields.set(canonical, eq < 0 ? undefined : field.slice(eq + 1));
  }
  const type = fields.get('type') ?? 'volume';
  if (type !== 'bind' && type !== 'volume' && type !== 'tmpfs') {
    throw bad(`${flag}: unknown mount type "${type}" (bind, volume or tmpfs)`);
  }
  const rawTarget = fields.get('target');
  if (rawTarget === undefined) throw bad(`${flag}: target= is required`);
  const target = containerTarget(rawTarget, flag);
  const source = fields.get('source');
  const allowed: Record<typeof type, Set<string>> = {
    bind: new Set(['type', 'source', 'target', 'readonly', 'bind-propagation', 'relabel', 'consistency']),
    volume: new Set(['type', 'source', 'target', 'readonly', 'volume-nocopy', 'consistency']),
    tmpfs: new Set(['type', 'target', 'readonly', 'tmpfs-size', 'tmpfs-mode']),
  };
  for (const key of fields.keys()) {
    if (!allowed[type].has(key)) {
      const known = Object.values(allowed).some((s) => s.has(key));
      throw bad(known ? `${flag}: "${key}" does not apply to type=${type}` : `${flag}: unknown key "${key}"`);
    }
  }
  const readonly = boolField(fields, 'readonly', flag);
  const options: string[] = [];

  if (type === 'bind') {
    if (source === undefined || source === '') throw bad(`${flag}: type=bind needs source=`);
    if (!path.posix.isAbsolute(source)) throw bad(`${flag}: bind source path "${source}" must be absolute`);
    const propagation = fields.get('bind-propagation');
    if (propagation !== undefined) {
      if (!PROPAGATION.has(propagation)) throw bad(`${flag}: invalid bind-propagation "${propagation}"`);
      options.push(propagation);
    }
    const relabel = fields.get('relabel');
    if (relabel !== undefined) {
      if (relabel !== 'shared' && relabel !== 'private') throw bad(`${flag}: invalid relabel "${relabel}" (shared or private)`);
      options.push(relabel === 'shared' ? 'z' : 'Z');
    }
    return { type, source, target, readonly, options };
  }
  if (type === 'volume') {
    if (boolField(fields, 'volume-nocopy', flag)) options.push('nocopy');
    if (source === undefined || source === '') return { type, source: '', target, readonly, options, anonymous: true };
    if (!VOLUME_NAME.test(source)) throw bad(`${flag}: invalid volume name "${source}": use letters, digits, "_", "." and "-"`);
    return { type, source, target, readonly, options };
  }
  const size = fields.get('tmpfs-size');
  if (size !== undefined) options.push(`size=${tmpfsSize(size, flag)}`);
  const mode = fields.get('tmpfs-mode');
  if (mode !== undefined) options.push(`mode=${tmpfsMode(mode, flag)}`);
  return { type, source: '', target, readonly, options };
}

function boolField(fields: Map<string, string | undefined>, key: string, flag: string): boolean {
  if (!fields.has(key)) return false;
  const v = fields.get(key);
  if (v === undefined || v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw bad(`${flag}: ${key}="${v}" is not a boolean (true or false)`);
}

function tmpfsSize(size: string, flag: string): string {
  if (!/^\d+[kmgKMG%]?$/.test(size)) throw bad(`${flag}: invalid tmpfs size "${size}" (bytes, or with k, m, g or %)`);
  return size.toLowerCase();
}

function tmpfsMode(mode: string, flag: string): string {
  if (!/^[0-7]{1,4}$/.test(mode)) throw bad(`${flag}: invalid tmpfs mode "${mode}" (octal, e.g. 1777)`);
  return mode.padStart(4, '0');
}

/** --tmpfs /target[:size=64m,mode=1777,noexec,...] */
function parseTmpfsFlag(value: string): MountSpec {
  const flag = `--tmpfs "${value}"`;
  const colon = value.indexOf(':');
  const target = containerTarget(colon < 0 ? value : value.slice(0, colon), flag);
  let readonly = false;
  const options: string[] = [];
  for (const opt of (colon < 0 ? '' : value.slice(colon + 1)).split(',').filter((o) => o !== '')) {
    const eq = opt.indexOf('=');
    const key = eq < 0 ? opt : opt.slice(0, eq);
    const val = opt.slice(eq + 1);
    if (eq < 0 && TMPFS_FLAGS.has(opt)) {
      if (opt === 'ro' || opt === 'rw') readonly = opt === 'ro';
      else options.push(opt);
    } else if (key === 'size') options.push(`size=${tmpfsSize(val, flag)}`);
    else if (key === 'mode') options.push(`mode=${tmpfsMode(val, flag)}`);
    else if ((key === 'nr_inodes' || key === 'uid' || key === 'gid') && /^\d+[kmgKMG]?$/.test(val)) options.push(`${key}=${val}`);
    else throw bad(`${flag}: unknown or invalid tmpfs option "${opt}"`);
  }
  return { type: 'tmpfs', source: '', target, readonly, options };
}
