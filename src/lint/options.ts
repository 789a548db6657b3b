// Which checks run and whether a warning fails the build: the `# check=` parser directive, or the
// BUILDKIT_DOCKERFILE_CHECK build argument, which replaces the directive entirely (as in BuildKit).
// The syntax is buildkit's ParseLintOptions: `skip=A,B|all`, `error=<bool>`, `experimental=A,B|all`,
// separated by `;`.
import { TsbuildError } from '../errors.js';
import type { Rule } from './rules.js';

export interface CheckConfig {
  skipAll: boolean;
  skip: ReadonlySet<string>;
  /** error=true: any warning fails the build (and `tsbuild lint`). */
  error: boolean;
  experimentalAll: boolean;
  experimental: ReadonlySet<string>;
}

export const DEFAULT_CHECK_CONFIG: CheckConfig = {
  skipAll: false,
  skip: new Set(),
  error: false,
  experimentalAll: false,
  experimental: new Set(),
};

export const CHECK_BUILD_ARG = 'BUILDKIT_DOCKERFILE_CHECK';

/** Parses a check option string; `where` prefixes errors (`Containerfile:1` or `--build-arg ...`). */
export function parseCheckOptions(value: string, where: string): CheckConfig {
  const trimmed = value.trim();
  if (trimmed === '') return DEFAULT_CHECK_CONFIG;
  const config = { ...DEFAULT_CHECK_CONFIG, skip: new Set<string>(), experimental: new Set<string>() };
  const list = (v: string): string[] => v.split(',').map((r) => r.trim());
  for (const part of trimmed.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) throw new TsbuildError('INVALID_ARGUMENT', `${where}: invalid check option ${JSON.stringify(part)}`);
    const key = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (key === 'skip') {
      if (v === 'all') config.skipAll = true;
      else for (const r of list(v)) config.skip.add(r);
    } else if (key === 'experimental') {
      if (v === 'all') config.experimentalAll = true;
      else for (const r of list(v)) config.experimental.add(r);
    } else if (key === 'error') {
      const bool = parseGoBool(v);
      if (bool === undefined) {
        throw new TsbuildError('INVALID_ARGUMENT', `${where}: invalid check option ${JSON.stringify(part)}: error takes true or false`);
      }
      config.error = bool;
    } else {
      throw new TsbuildError('INVALID_ARGUMENT', `${where}: invalid check option ${JSON.stringify(key)} (known: skip, error, experimental)`);
    }
  }
  return config;
}

/** strconv.ParseBool */
function parseGoBool(v: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

// buildkit's reDirectives. dockerfile-ast is not used here: it cuts a value at the first blank.
const DIRECTIVE_RE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;

/**
 * The config for a Containerfile: the build argument if given, else the `# check=` directive. As
 * every parser directive, it counts only in the run of directive lines that starts the file.
 */
export function checkConfigFor(text: string, file: string, buildArgs?: ReadonlyMap<string, string>): CheckConfig {
  const override = buildArgs?.get(CHECK_BUILD_ARG);
  if (override !== undefined) return parseCheckOptions(override, `--build-arg ${CHECK_BUILD_ARG}`);
  const lines = (text.startsWith('\uFEFF') ? text.slice(1) : text).split(/\r?\n/);
  let found: { value: string; line: number } | undefined;
  for (const [i, line] of lines.entries()) {
    const match = DIRECTIVE_RE.exec(line);
    if (!match) break;
    if (match[1]!.toLowerCase() !== 'check') continue;
    if (found) throw new TsbuildError('PARSE', `${file}:${i + 1}: only one check parser directive can be used`);
    found = { value: match[2]!, line: i + 1 };
  }
  return found ? parseCheckOptions(found.value, `${file}:${found.line}`) : DEFAULT_CHECK_CONFIG;
}

/** buildkit's Linter.Run filter: experimental rules must be asked for; skip never turns them off. */
export function ruleEnabled(config: CheckConfig, rule: Rule): boolean {
  if (rule.experimental) return config.experimentalAll || config.experimental.has(rule.name);
  return !config.skipAll && !config.skip.has(rule.name);
}

