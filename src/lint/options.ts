// Which checks run and whether a warning fails the build: the `# check=` parser directive (read by
// the parser's own directive reader), or the BUILDKIT_DOCKERFILE_CHECK build argument in the same
// syntax, which replaces the directive entirely (as in BuildKit).
import { parseCheckDirective, type CheckDirective } from '../containerfile/index.js';
import { readDirectives } from '../containerfile/parse.js';
import { TsbuildError } from '../errors.js';
import type { Rule } from './rules.js';

export type CheckConfig = CheckDirective;

export const DEFAULT_CHECK_CONFIG: CheckConfig = { skip: [], skipAll: false, error: false };

export const CHECK_BUILD_ARG = 'BUILDKIT_DOCKERFILE_CHECK';

export function checkConfigFor(text: string, file: string, buildArgs?: ReadonlyMap<string, string>): CheckConfig {
  const override = buildArgs?.get(CHECK_BUILD_ARG);
  if (override !== undefined) {
    return parseCheckDirective(override, (message) => new TsbuildError('INVALID_ARGUMENT', `--build-arg ${CHECK_BUILD_ARG}: ${message}`));
  }
  const lines = (text.startsWith('\uFEFF') ? text.slice(1) : text).split(/\r?\n/);
  return readDirectives(lines, file).directives.check ?? DEFAULT_CHECK_CONFIG;
}

/** buildkit's Linter.Run filter: experimental rules must be asked for; skip never turns them off. */
export function ruleEnabled(config: CheckConfig, rule: Rule): boolean {
  if (rule.experimental) return config.experimentalAll === true || (config.experimental?.includes(rule.name) ?? false);
  return !config.skipAll && !config.skip.includes(rule.name);
}
