// `--security-opt` as podman takes it, for run/create and for bud's RUN containers: the parsed form
// the spec generator applies (seccomp profile or none, no-new-privileges, extra masked paths, default
// masks lifted). tsbuild applies no SELinux label and no AppArmor profile, so only the values that
// turn those off are accepted (as no-ops); asking for a label or profile is an error, not ignored.
import path from 'node:path';
import { TsbuildError } from '../errors.js';
import { loadSeccompProfile } from './seccomp.js';
import type { SeccompProfile } from './seccomp-profile.js';

export interface SecurityOptions {
  /** Absent: the default profile. 'unconfined': no filter. A file's profile, read when the option was parsed. */
  seccomp?: 'unconfined' | { file: string; profile: SeccompProfile };
  /** Absent: true (the default of every container here). */
  noNewPrivileges?: boolean;
  /** Paths masked beyond the defaults (mask=). */
  mask?: string[];
  /** Default masked and read-only paths to leave open: 'ALL', or absolute paths with * and ? globs (unmask=). */
  unmask?: string[];
}

export const SECURITY_OPT_HELP =
  'seccomp=unconfined|FILE (a Docker/OCI profile), no-new-privileges[=true|false], mask=PATH[:PATH], unmask=ALL|PATH[:PATH]; ' +
  'label=disable and apparmor=unconfined are accepted and change nothing (tsbuild applies no SELinux label or AppArmor profile)';

/** The options in order (a later seccomp= or no-new-privileges wins); undefined when none changes anything. */
export async function parseSecurityOpts(values: readonly string[]): Promise<SecurityOptions | undefined> {
  const out: SecurityOptions = {};
  for (const raw of values) {
    const opt = raw.trim();
    const invalid = (why: string, hint?: string): TsbuildError => new TsbuildError('INVALID_ARGUMENT', `--security-opt "${raw}": ${why}`, { hint });
    // KEY=VALUE; docker's older KEY:VALUE too, when there is no '='.
    const sep = opt.includes('=') ? opt.indexOf('=') : opt.indexOf(':');
    const key = sep < 0 ? opt : opt.slice(0, sep);
    const value = sep < 0 ? undefined : opt.slice(sep + 1);
    switch (key) {
      case 'seccomp':
        if (value === 'unconfined') out.seccomp = 'unconfined';
        else if (value === undefined || value === '') throw invalid('expected seccomp=unconfined or seccomp=PROFILE-FILE');
        else out.seccomp = { file: path.resolve(value), profile: await loadSeccompProfile(value) };
        break;
      case 'no-new-privileges':
        if (value === undefined || value === 'true') out.noNewPrivileges = true;
        else if (value === 'false') out.noNewPrivileges = false;
        else throw invalid('expected no-new-privileges, no-new-privileges=true or no-new-privileges=false');
        break;
      case 'label':
        if (value !== 'disable') throw invalid('tsbuild applies no SELinux labels; only label=disable is accepted');
        break;
      case 'apparmor':
        if (value !== 'unconfined') throw invalid('tsbuild applies no AppArmor profile; only apparmor=unconfined is accepted');
        break;
      case 'mask':
        out.mask = [...(out.mask ?? []), ...pathList(value, raw, false)];
        break;
      case 'unmask':
        out.unmask = [...(out.unmask ?? []), ...pathList(value, raw, true)];
        break;
      case 'systempaths':
        // Docker's name for unmask=ALL.
        if (value !== 'unconfined') throw invalid('expected systempaths=unconfined');
        out.unmask = [...(out.unmask ?? []), 'ALL'];
        break;
      default:
        throw invalid('unknown option', `accepted: ${SECURITY_OPT_HELP}`);
    }
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function pathList(value: string | undefined, raw: string, allowAll: boolean): string[] {
  const paths = (value ?? '').split(':').map((p) => p.trim()).filter((p) => p !== '');
  const what = allowAll ? 'ALL or absolute paths separated by colons' : 'absolute paths separated by colons';
  if (paths.length === 0) throw new TsbuildError('INVALID_ARGUMENT', `--security-opt "${raw}": expected ${what}`);
  for (const p of paths) {
    if (!(allowAll && p === 'ALL') && !path.posix.isAbsolute(p)) {
      throw new TsbuildError('INVALID_ARGUMENT', `--security-opt "${raw}": "${p}" is not an absolute path (expected ${what})`);
    }
  }
  return paths.map((p) => (p === 'ALL' ? p : path.posix.normalize(p)));
}

/** podman's unmask match: the path itself or a glob (* and ? within one path component) over it. */
export function unmasks(patterns: readonly string[], p: string): boolean {
  return patterns.some((pattern) => {
    if (pattern === 'ALL' || pattern === p) return true;
    if (!/[*?]/.test(pattern)) return false;
    const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
    return new RegExp(`^${re}$`).test(p);
  });
}
