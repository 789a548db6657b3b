// Turns a seccomp profile (Docker's format: the default one in seccomp-profile.ts, or a user's file
// from `--security-opt seccomp=FILE`) into the OCI spec's linux.seccomp for one container, as Docker
// does: the rules whose capability, architecture and kernel conditions this container meets, and
// the architectures of the archMap entry of this machine. Also reads and checks profile files, so
// a bad one fails `create` or the build with one line naming the file, not runc at start.
import { readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import { TsbuildError, errnoCode } from '../errors.js';
import {
  SECCOMP_ACTIONS,
  SECCOMP_FLAGS,
  SECCOMP_OPERATORS,
  type SeccompAction,
  type SeccompArg,
  type SeccompCondition,
  type SeccompOperator,
  type SeccompProfile,
  type SeccompRule,
} from './seccomp-profile.js';

/** The OCI runtime-spec linux.seccomp section (what runc reads). */
export interface LinuxSeccomp {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  syscalls: { names: string[]; action: SeccompAction; errnoRet?: number; args?: Required<SeccompArg>[] }[];
}

export interface SeccompTarget {
  /** The container's (bounding) capabilities, CAP_ names. */
  capabilities: readonly string[];
  /** Docker's native architecture name (amd64, arm64, ...); default this machine's. */
  arch?: string;
  /** Kernel release (6.1.0-18-amd64); default this machine's. */
  kernel?: string;
}

/** Docker's native architecture names and the libseccomp architecture each is. */
export const NATIVE_TO_SECCOMP: Readonly<Record<string, string>> = {
  x86: 'SCMP_ARCH_X86',
  amd64: 'SCMP_ARCH_X86_64',
  x32: 'SCMP_ARCH_X32',
  arm: 'SCMP_ARCH_ARM',
  arm64: 'SCMP_ARCH_AARCH64',
  mips64: 'SCMP_ARCH_MIPS64',
  mips64n32: 'SCMP_ARCH_MIPS64N32',
  mipsel64: 'SCMP_ARCH_MIPSEL64',
  mipsel64n32: 'SCMP_ARCH_MIPSEL64N32',
  mipsle: 'SCMP_ARCH_MIPSEL',
  ppc: 'SCMP_ARCH_PPC',
  ppc64: 'SCMP_ARCH_PPC64',
  ppc64le: 'SCMP_ARCH_PPC64LE',
  s390: 'SCMP_ARCH_S390',
  s390x: 'SCMP_ARCH_S390X',
  riscv64: 'SCMP_ARCH_RISCV64',
};

/** This machine's architecture by Docker's native name (Node's process.arch differs: x64, ia32, ...). */
export function nativeArch(arch: string = process.arch, endianness: 'BE' | 'LE' = os.endianness()): string {
  switch (arch) {
    case 'x64':
      return 'amd64';
    case 'ia32':
      return 'x86';
    case 'ppc64':
      return endianness === 'LE' ? 'ppc64le' : 'ppc64';
    case 'mips64el':
      return 'mipsel64';
    case 'mipsel':
      return 'mipsle';
    default:
      return arch; // arm, arm64, s390x, riscv64, mips64 are named alike
  }
}

export function buildSeccomp(profile: SeccompProfile, target: SeccompTarget): LinuxSeccomp {
  const arch = target.arch ?? nativeArch();
  const kernel = target.kernel ?? os.release();
  const caps = new Set(target.capabilities);
  const out: LinuxSeccomp = { defaultAction: profile.defaultAction, syscalls: [] };
  if (profile.defaultErrnoRet !== undefined) out.defaultErrnoRet = profile.defaultErrnoRet;
  if (profile.flags?.length) out.flags = [...profile.flags];
  if (profile.architectures?.length) out.architectures = [...profile.architectures];
  else {
    // No entry for this machine: libseccomp filters its native architecture only.
    const entry = profile.archMap?.find((a) => a.architecture === NATIVE_TO_SECCOMP[arch]);
    if (entry) out.architectures = [entry.architecture, ...entry.subArchitectures];
  }
  const meets = (rule: SeccompRule): boolean => {
    const ex = rule.excludes ?? {};
    const inc = rule.includes ?? {};
    if (ex.arches?.includes(arch)) return false;
    if (ex.caps?.some((c) => caps.has(c))) return false;
    if (ex.minKernel !== undefined && kernelAtLeast(kernel, ex.minKernel)) return false;
    if (inc.arches?.length && !inc.arches.includes(arch)) return false;
    if (inc.caps?.some((c) => !caps.has(c))) return false;
    if (inc.minKernel !== undefined && !kernelAtLeast(kernel, inc.minKernel)) return false;
    return true;
  };
  for (const rule of profile.syscalls) {
    if (!meets(rule)) continue;
    const call: LinuxSeccomp['syscalls'][number] = { names: [...rule.names], action: rule.action };
    if (rule.errnoRet !== undefined) call.errnoRet = rule.errnoRet;
    if (rule.args?.length) call.args = rule.args.map((a) => ({ index: a.index, value: a.value, valueTwo: a.valueTwo ?? 0, op: a.op }));
    out.syscalls.push(call);
  }
  return out;
}

/** release >= wanted, comparing major.minor[.patch] numerically (6.18.44-fc-v857 >= 4.8). */
export function kernelAtLeast(release: string, wanted: string): boolean {
  const parts = (v: string): number[] => (/^(\d+)\.(\d+)(?:\.(\d+))?/.exec(v)?.slice(1) ?? []).map((n) => Number(n ?? 0));
  const have = parts(release);
  const want = parts(wanted);
  for (let i = 0; i < 3; i++) {
    const a = have[i] ?? 0;
    const b = want[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

/** Profiles are a few dozen KiB; anything far bigger is not one. */
const MAX_PROFILE_BYTES = 4 * 1024 * 1024;

/** Reads and checks a profile file (Docker's format, or an OCI linux.seccomp section). */
export async function loadSeccompProfile(file: string): Promise<SeccompProfile> {
  const fail = (why: string, cause?: unknown): TsbuildError => new TsbuildError('INVALID_ARGUMENT', `seccomp profile ${file}: ${why}`, { cause });
  let text: string;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw fail('not a regular file');
    if (st.size > MAX_PROFILE_BYTES) throw fail(`${st.size} bytes is too big for a profile (at most ${MAX_PROFILE_BYTES})`);
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof TsbuildError) throw err;
    const code = errnoCode(err);
    throw fail(code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message, err);
  }
  return parseSeccompProfile(text, file);
}

/** Checks a profile's JSON; `file` names it in errors. Unknown fields are ignored, as Docker does. */
export function parseSeccompProfile(text: string, file: string): SeccompProfile {
  const fail = (why: string): TsbuildError => new TsbuildError('INVALID_ARGUMENT', `seccomp profile ${file}: ${why}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw fail(`not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(json)) throw fail('expected a JSON object with defaultAction and syscalls');
  const action = (v: unknown, where: string): SeccompAction => {
    if (v === 'SCMP_ACT_NOTIFY') throw fail(`${where} SCMP_ACT_NOTIFY needs a seccomp agent, which tsbuild does not run`);
    if (typeof v !== 'string' || !(SECCOMP_ACTIONS as readonly string[]).includes(v)) {
      throw fail(`${where} ${JSON.stringify(v)} is not a seccomp action (${SECCOMP_ACTIONS.join(', ')})`);
    }
    return v as SeccompAction;
  };
  const whole = (v: unknown, where: string, max = Number.MAX_SAFE_INTEGER): number => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) throw fail(`${where} ${JSON.stringify(v)}: expected a whole number from 0 to ${max}`);
    return v;
  };
  const strings = (v: unknown, where: string): string[] => {
    if (v === null || v === undefined) return [];
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string' && s !== '')) throw fail(`${where}: expected a list of names`);
    return v as string[];
  };
  const arch = (v: unknown, where: string): string => {
    if (typeof v !== 'string' || !/^SCMP_ARCH_[A-Z0-9_]+$/.test(v)) throw fail(`${where} ${JSON.stringify(v)} is not a seccomp architecture (SCMP_ARCH_...)`);
    return v;
  };
  const condition = (v: unknown, where: string): SeccompCondition | undefined => {
    if (v === undefined || v === null) return undefined;
    if (!isObject(v)) throw fail(`${where}: expected an object with caps, arches or minKernel`);
    const c: SeccompCondition = {};
    const caps = strings(v.caps, `${where}.caps`);
    const arches = strings(v.arches, `${where}.arches`);
    if (caps.length) c.caps = caps.map((n) => (n.toUpperCase().startsWith('CAP_') ? n.toUpperCase() : `CAP_${n.toUpperCase()}`));
    if (arches.length) c.arches = arches;
    if (v.minKernel !== undefined && v.minKernel !== '') {
      if (typeof v.minKernel !== 'string' || !/^\d+\.\d+(\.\d+)?$/.test(v.minKernel)) throw fail(`${where}.minKernel ${JSON.stringify(v.minKernel)}: expected a kernel version such as 4.8`);
      c.minKernel = v.minKernel;
    }
    return Object.keys(c).length > 0 ? c : undefined;
  };

  const profile: SeccompProfile = { defaultAction: action(json.defaultAction, 'defaultAction'), syscalls: [] };
  if (json.defaultErrnoRet !== undefined && json.defaultErrnoRet !== null) profile.defaultErrnoRet = whole(json.defaultErrnoRet, 'defaultErrnoRet', 4095);
  const architectures = strings(json.architectures, 'architectures').map((a, i) => arch(a, `architectures[${i}]`));
  if (architectures.length) profile.architectures = architectures;
  if (json.archMap !== undefined && json.archMap !== null) {
    if (!Array.isArray(json.archMap)) throw fail('archMap: expected a list of {architecture, subArchitectures}');
    if (architectures.length) throw fail('give either architectures or archMap, not both');
    profile.archMap = json.archMap.map((entry: unknown, i) => {
      if (!isObject(entry)) throw fail(`archMap[${i}]: expected {architecture, subArchitectures}`);
      return {
        architecture: arch(entry.architecture, `archMap[${i}].architecture`),
        subArchitectures: strings(entry.subArchitectures, `archMap[${i}].subArchitectures`).map((a, j) => arch(a, `archMap[${i}].subArchitectures[${j}]`)),
      };
    });
  }
  const flags = strings(json.flags, 'flags');
  for (const f of flags) if (!(SECCOMP_FLAGS as readonly string[]).includes(f)) throw fail(`flags: unknown flag ${f} (${SECCOMP_FLAGS.join(', ')})`);
  if (flags.length) profile.flags = flags;
  if (json.listenerPath !== undefined && json.listenerPath !== '') throw fail('listenerPath needs a seccomp agent, which tsbuild does not run');
  if (json.syscalls !== undefined && json.syscalls !== null && !Array.isArray(json.syscalls)) throw fail('syscalls: expected a list of rules');
  for (const [i, raw] of ((json.syscalls as unknown[] | undefined) ?? []).entries()) {
    const where = `syscalls[${i}]`;
    if (!isObject(raw)) throw fail(`${where}: expected an object with names and action`);
    const names = raw.name !== undefined ? [raw.name] : raw.names;
    if (raw.name !== undefined && raw.names !== undefined) throw fail(`${where}: give either name or names, not both`);
    const list = strings(names, `${where}.names`);
    if (list.length === 0) throw fail(`${where}: no syscall names`);
    const r: SeccompRule = { names: list, action: action(raw.action, `${where}.action`) };
    if (raw.errnoRet !== undefined && raw.errnoRet !== null) r.errnoRet = whole(raw.errnoRet, `${where}.errnoRet`, 4095);
    if (raw.args !== undefined && raw.args !== null) {
      if (!Array.isArray(raw.args)) throw fail(`${where}.args: expected a list of {index, value, op}`);
      r.args = raw.args.map((a: unknown, j): SeccompArg => {
        const w = `${where}.args[${j}]`;
        if (!isObject(a)) throw fail(`${w}: expected {index, value, op}`);
        if (typeof a.op !== 'string' || !(SECCOMP_OPERATORS as readonly string[]).includes(a.op)) {
          throw fail(`${w}.op ${JSON.stringify(a.op)} is not an operator (${SECCOMP_OPERATORS.join(', ')})`);
        }
        const arg: SeccompArg = { index: whole(a.index, `${w}.index`, 5), value: whole(a.value, `${w}.value`), op: a.op as SeccompOperator };
        if (a.valueTwo !== undefined && a.valueTwo !== null) arg.valueTwo = whole(a.valueTwo, `${w}.valueTwo`);
        return arg;
      });
    }
    const includes = condition(raw.includes, `${where}.includes`);
    const excludes = condition(raw.excludes, `${where}.excludes`);
    if (includes) r.includes = includes;
    if (excludes) r.excludes = excludes;
    profile.syscalls.push(r);
  }
  return profile;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
