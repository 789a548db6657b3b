// Resolves a Containerfile USER / `--user` value ("name", "uid", "name:group", "uid:gid", ...) to
// numeric ids the way Docker does, reading the image's own /etc/passwd and /etc/group. The files are
// reached through resolveInRoot, so a symlinked /etc/passwd in an untrusted image cannot make us
// read a host file.
import { readFileSync, statSync } from 'node:fs';
import { TsbuildError, errnoCode } from '../errors.js';
import { resolveInRoot } from '../util/resolve-in-root.js';
import type { ProcessUser } from './spec.js';

/** /etc/passwd and /etc/group are read whole; real ones are kilobytes. */
const MAX_ACCOUNT_FILE = 16 * 1024 * 1024;

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

// Docker's bounds: ids are non-negative 31-bit numbers.
const MAX_ID = 2 ** 31 - 1;

export async function resolveUser(rootfs: string, spec: string | undefined): Promise<ProcessUser> {
  const value = (spec ?? '').trim();
  const colon = value.indexOf(':');
  // An empty user means root, looked up like "0" so root still gets its supplementary groups.
  const userArg = (colon === -1 ? value : value.slice(0, colon)) || '0';
  const groupArg = colon === -1 ? '' : value.slice(colon + 1);
  const uidArg = parseId(userArg, 'user');

  const passwd = parsePasswd(await readImageFile(rootfs, '/etc/passwd'));
  // A name wins over a uid, as in Docker: "USER 1000" matches a user literally named "1000" first.
  const entry = passwd.find((u) => u.name === userArg) ?? (uidArg === undefined ? undefined : passwd.find((u) => u.uid === uidArg));
  if (!entry && uidArg === undefined) {
    throw new TsbuildError('NOT_FOUND', `unable to find user ${userArg}: no matching entries in passwd file`);
  }
  const uid = entry?.uid ?? uidArg ?? 0;
  let gid = entry?.gid ?? 0;
  let additionalGids: number[] = [];

  if (groupArg !== '') {
    const gidArg = parseId(groupArg, 'group');
    const groups = parseGroup(await readImageFile(rootfs, '/etc/group'));
    const group = groups.find((g) => g.name === groupArg) ?? (gidArg === undefined ? undefined : groups.find((g) => g.gid === gidArg));
    if (!group && gidArg === undefined) {
      throw new TsbuildError('NOT_FOUND', `unable to find group ${groupArg}: no matching entries in group file`);
    }
    gid = group?.gid ?? gidArg ?? 0;
    // An explicit group replaces the user's groups entirely; no supplementary ones are added.
  } else if (entry) {
    const groups = parseGroup(await readImageFile(rootfs, '/etc/group'));
    additionalGids = [...new Set(groups.filter((g) => g.members.includes(entry.name)).map((g) => g.gid))];
  }
  return { uid, gid, additionalGids };
}

/** Groups by gid or by name in the image's /etc/group (--group-add); a name it lacks is an error. */
export async function resolveGroups(rootfs: string, specs: readonly string[]): Promise<number[]> {
  if (specs.length === 0) return [];
  const groups = parseGroup(await readImageFile(rootfs, '/etc/group'));
  return specs.map((spec) => {
    const gid = groups.find((g) => g.name === spec)?.gid ?? parseId(spec, 'group');
    if (gid === undefined) throw new TsbuildError('NOT_FOUND', `unable to find group ${spec}: no matching entries in group file`);
    return gid;
  });
}

/** The numeric value of an id argument, undefined when it is a name; out-of-range numbers are errors. */
function parseId(value: string, what: 'user' | 'group'): number | undefined {
  if (!/^\d+$/.test(value)) return undefined;
  const id = Number(value);
  if (id > MAX_ID) throw new TsbuildError('INVALID_ARGUMENT', `${what} id ${value} is out of range`);
  return id;
}

/** Contents of a file inside the image, or '' when it does not exist (an image without /etc/passwd is fine). */
async function readImageFile(rootfs: string, file: string): Promise<string> {
  const hostPath = await resolveInRoot(rootfs, file);
  try {
    // Read on the host: an image's /etc/passwd that is a device node or FIFO would be the host's
    // device (/dev/zero: endless; a disk: its bytes) or block forever.
    // Synchronously: account files are small (MAX_ACCOUNT_FILE), see util/fs.ts.
    const st = statSync(hostPath);
    if (!st.isFile()) throw new TsbuildError('INVALID_ARGUMENT', `${file} of the container is not a regular file`);
    if (st.size > MAX_ACCOUNT_FILE) throw new TsbuildError('INVALID_ARGUMENT', `${file} of the container is too large (${st.size} bytes)`);
    return readFileSync(hostPath, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return '';
    if (err instanceof TsbuildError) throw err;
    throw new TsbuildError('IO', `cannot read ${file} of the container: ${(err as Error).message}`, { cause: err });
  }
}

function records(text: string): string[][] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.split(':'));
}

function parsePasswd(text: string): PasswdEntry[] {
  const entries: PasswdEntry[] = [];
  for (const [name, , uid, gid] of records(text)) {
    // Malformed lines are skipped, like libc does, rather than failing the whole lookup.
    if (!name || uid === undefined || gid === undefined || !/^\d+$/.test(uid) || !/^\d+$/.test(gid)) continue;
    entries.push({ name, uid: Number(uid), gid: Number(gid) });
  }
  return entries;
}

function parseGroup(text: string): GroupEntry[] {
  const entries: GroupEntry[] = [];
  for (const [name, , gid, members] of records(text)) {
    if (!name || gid === undefined || !/^\d+$/.test(gid)) continue;
    entries.push({ name, gid: Number(gid), members: (members ?? '').split(',').map((m) => m.trim()).filter((m) => m !== '') });
  }
  return entries;
}
