// The value of one RUN --mount flag, parsed the way BuildKit's Dockerfile frontend 1.26 parses it
// (instructions.ParseMount): CSV fields, `key=value` with values expanded by the stage's ARG/ENV,
// the bare booleans ro/rw/required, then the per-type defaults (targets relative to WORKDIR, cache
// id = target, secret target /run/secrets/<id>, ssh target /run/buildkit/ssh_agent.N, modes).
// Every mistake is a one-line INVALID_ARGUMENT error naming file:line.
import path from 'node:path';
import { TsbuildError } from '../../errors.js';
import { parseByteSize } from '../../util/size.js';

export type MountType = 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
export type CacheSharing = 'shared' | 'private' | 'locked';

export interface RunMount {
  type: MountType;
  /** Absolute path in the container; undefined only for a secret exposed as an env var alone. */
  target: string | undefined;
  /** bind/cache: a path in `from` (default its root); secret: unused (folded into id). */
  source: string;
  /** bind/cache: a stage (name or index) or an image; undefined: the build context (bind) or nothing (cache). Ignored by tmpfs and ssh, as in BuildKit. */
  from: string | undefined;
  readOnly: boolean;
  /** cache: the cache's id (default: target); secret/ssh: the id given to bud --secret/--ssh. */
  id: string;
  sharing: CacheSharing;
  /** cache/secret/ssh: mode, owner of what gets created. */
  mode: number;
  uid: number;
  gid: number;
  /** tmpfs: size limit in bytes. */
  size: number | undefined;
  /** secret: also (or only, without target) expose it as this environment variable. */
  env: string | undefined;
  required: boolean;
}

const TYPES: readonly MountType[] = ['bind', 'cache', 'tmpfs', 'secret', 'ssh'];
const DEFAULT_MODES: Record<MountType, number> = { bind: 0o755, cache: 0o755, tmpfs: 0o1777, secret: 0o400, ssh: 0o600 };

interface Raw {
  type: MountType;
  target?: string;
  source?: string;
  from?: string;
  readOnly?: boolean;
  id?: string;
  sharing?: CacheSharing;
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  env?: string;
  required?: boolean;
}

/**
 * Parses every --mount of one RUN. `expand` applies the stage's variables to a value; `workdir` is
 * the stage's WORKDIR, against which relative targets resolve (as in BuildKit).
 */
export function parseRunMounts(values: readonly string[], expand: (raw: string) => string, workdir: string, where: string): RunMount[] {
  let sshIndex = 0;
  const mounts = values.map((value) => {
    const raw = parseFields(value, expand, where);
    return withDefaults(raw, workdir, raw.type === 'ssh' ? sshIndex++ : 0, (msg) => fail(where, value, msg));
  });
  const targets = new Set<string>();
  for (const [i, m] of mounts.entries()) {
    if (m.target === undefined) continue;
    if (targets.has(m.target)) throw fail(where, values[i]!, `another --mount of this RUN already uses target ${m.target}`);
    targets.add(m.target);
  }
  return mounts;
}

function fail(where: string, value: string, message: string): TsbuildError {
  return new TsbuildError('INVALID_ARGUMENT', `${where}: RUN --mount=${value}: ${message}`);
}

function parseFields(value: string, expand: (raw: string) => string, where: string): Raw {
  const error = (msg: string): TsbuildError => fail(where, value, msg);
  const fields = splitCsv(value, error);
  // The type decides which keys are allowed; BuildKit reads it wherever it stands, so find it first.
  let type: MountType = 'bind';
  for (const field of fields) {
    const [key, v] = splitField(field);
    if (key !== 'type') continue;
    if (v === undefined) throw error('type needs a value (bind, cache, tmpfs, secret or ssh)');
    const t = expand(v).toLowerCase();
    if (!TYPES.includes(t as MountType)) throw error(`unsupported mount type "${t}" (expected bind, cache, tmpfs, secret or ssh)`);
    type = t as MountType;
  }
  const raw: Raw = { type };
  const only = (key: string, ...types: MountType[]): void => {
    if (!types.includes(type)) throw error(`"${key}" is not an option of type=${type} mounts`);
  };
  for (const field of fields) {
    const [key, rawValue] = splitField(field);
    if (key === 'type') continue;
    if (rawValue === undefined) {
      if (key === 'ro' || key === 'readonly') raw.readOnly = true;
      else if (key === 'rw' || key === 'readwrite') raw.readOnly = false;
      else if (key === 'required') {
        only(key, 'secret', 'ssh');
        raw.required = true;
      } else throw error(`"${field}" must be a key=value pair`);
      continue;
    }
    const v = expand(rawValue);
    switch (key) {
      case 'from':
        raw.from = v;
        break;
      case 'source':
      case 'src':
        raw.source = v;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        raw.target = v;
        break;
      case 'ro':
      case 'readonly':
        raw.readOnly = parseBool(key, v, error);
        break;
      case 'rw':
      case 'readwrite':
        raw.readOnly = !parseBool(key, v, error);
        break;
      case 'required':
        only(key, 'secret', 'ssh');
        raw.required = parseBool(key, v, error);
        break;
      case 'size':
        only(key, 'tmpfs');
        raw.size = parseSize(v, error);
        break;
      case 'id':
        raw.id = v;
        break;
      case 'sharing': {
        only(key, 'cache');
        const s = v.toLowerCase();
        if (s !== 'shared' && s !== 'private' && s !== 'locked') throw error(`unsupported sharing value "${v}" (expected shared, private or locked)`);
        raw.sharing = s;
        break;
      }
      case 'mode':
        only(key, 'cache', 'secret', 'ssh');
        if (!/^[0-7]{1,4}$/.test(v)) throw error(`mode "${v}" is not an octal file mode`);
        raw.mode = Number.parseInt(v, 8);
        break;
      case 'uid':
      case 'gid': {
        only(key, 'cache', 'secret', 'ssh');
        if (!/^\d+$/.test(v) || Number(v) > 0xffffffff) throw error(`${key} "${v}" is not a numeric id`);
        raw[key] = Number(v);
        break;
      }
      case 'env':
        only(key, 'secret');
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(v)) throw error(`env "${v}" is not a valid environment variable name`);
        raw.env = v;
        break;
      default:
        throw error(`unknown option "${key}"`);
    }
  }
  return raw;
}

function withDefaults(raw: Raw, workdir: string, sshIndex: number, error: (msg: string) => TsbuildError): RunMount {
  const { type } = raw;
  let target = raw.target === undefined || raw.target === '' ? undefined : path.posix.resolve('/', workdir, raw.target);
  if (target === '/') throw error('the target cannot be /');
  let id = raw.id ?? '';
  if (type === 'secret') {
    if (raw.from !== undefined) throw error('a secret mount has no from');
    if (raw.source !== undefined && raw.id !== undefined) throw error('give either id or source, not both');
    id = raw.id ?? raw.source ?? (target === undefined ? '' : path.posix.basename(target));
    if (id === '') throw error('a secret mount needs an id (or a target)');
    // With env= and no target the secret is an environment variable only (Dockerfile 1.10+).
    if (target === undefined && raw.env === undefined) target = `/run/secrets/${path.posix.basename(id)}`;
  } else if (type === 'ssh') {
    if (id === '') id = 'default';
    target ??= `/run/buildkit/ssh_agent.${sshIndex}`;
  } else {
    if (target === undefined) throw error(`a ${type} mount needs a target`);
    if (type === 'cache' && id === '') id = target;
  }
  if (raw.from === '') throw error('from is empty');
  return {
    type,
    target,
    source: raw.source ?? '/',
    from: raw.from,
    // Read-only unless asked: bind, secret and ssh; writable: cache and tmpfs.
    readOnly: raw.readOnly ?? !(type === 'cache' || type === 'tmpfs'),
    id,
    sharing: raw.sharing ?? 'shared',
    mode: raw.mode ?? DEFAULT_MODES[type],
    uid: raw.uid ?? 0,
    gid: raw.gid ?? 0,
    size: raw.size,
    env: raw.env,
    required: raw.required ?? false,
  };
}

/** Fields as Go's encoding/csv reads one record: commas separate, a field may be "quoted" ("" is a quote). */
export function splitCsv(value: string, error: (msg: string) => TsbuildError): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (value[i] === '"') {
      i++;
      for (;;) {
        if (i >= value.length) throw error('unterminated quote');
        if (value[i] === '"') {
          if (value[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += value[i++];
      }
      if (i < value.length && value[i] !== ',') throw error('extra text after a closing quote');
    } else {
      const comma = value.indexOf(',', i);
      field = value.slice(i, comma < 0 ? value.length : comma);
      i = comma < 0 ? value.length : comma;
    }
    fields.push(field);
    if (i >= value.length) break;
    i++; // the comma
  }
  return fields.filter((f) => f.trim() !== '');
}

function splitField(field: string): [key: string, value: string | undefined] {
  const eq = field.indexOf('=');
  return eq < 0 ? [field.trim().toLowerCase(), undefined] : [field.slice(0, eq).trim().toLowerCase(), field.slice(eq + 1)];
}

/** Go's strconv.ParseBool. */
function parseBool(key: string, v: string, error: (msg: string) => TsbuildError): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  throw error(`${key}="${v}" is not a boolean`);
}

function parseSize(v: string, error: (msg: string) => TsbuildError): number {
  const bytes = parseByteSize(v);
  if (bytes === undefined) throw error(`size "${v}" is not a size (e.g. 64m)`);
  return bytes;
}
