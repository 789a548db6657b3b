// Runs the checks on an in-memory Containerfile and keeps what a user reads of each warning.
import { lintContainerfile, type BaseImageInfo, type LintOptions, type LintReport } from '../../../src/lint/index.js';

export interface Finding {
  rule: string;
  line: number;
  message: string;
}

export async function report(text: string, options: Partial<LintOptions> = {}): Promise<LintReport> {
  return lintContainerfile({ file: 'Containerfile', text, ...options });
}

/** The warnings of a check run; fails the test on a parse error. */
export async function findings(text: string, options: Partial<LintOptions> = {}): Promise<Finding[]> {
  const r = await report(text, options);
  if (r.error) throw r.error;
  return r.warnings.map((w) => ({ rule: w.rule, line: w.line, message: w.message }));
}

/** Only the findings of one rule. */
export async function findingsOf(rule: string, text: string, options: Partial<LintOptions> = {}): Promise<Finding[]> {
  return (await findings(text, options)).filter((f) => f.rule === rule);
}

/** A base image lookup that knows the given images (as if they were in local storage). */
export function images(known: Record<string, Partial<BaseImageInfo>>): LintOptions['baseImage'] {
  return async (ref) => {
    const info = known[ref];
    return info && { env: [], os: 'linux', architecture: hostArch(), ...info };
  };
}

export function hostArch(): string {
  return ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch;
}
