// Build checks (BuildKit's `docker build --check`): run every rule over a Containerfile and say what
// was found. A parse error ends the checks but keeps the warnings found before it, as BuildKit does;
// `# check=error=true` turns any warning into a failure (lintFailure).
import { parseContainerfile } from '../containerfile/index.js';
import { TsbuildError, isTsbuildError } from '../errors.js';
import { checkConfigFor, DEFAULT_CHECK_CONFIG, type CheckConfig } from './options.js';
import { createCollector, type LintWarning } from './report.js';
import { checkStages, type StageCheckOptions } from './stage-rules.js';
import { checkDuplicateStageNames, checkSyntax } from './syntax-rules.js';

export { CHECK_BUILD_ARG, type CheckConfig } from './options.js';
export type { LintWarning } from './report.js';
export { RULES, type RuleName } from './rules.js';
export type { BaseImageInfo, BaseImageLookup } from './stage-rules.js';
export { formatJson, formatText, formatBuildWarning } from './format.js';
export { localBaseImages } from './base-images.js';

export interface LintOptions extends Partial<StageCheckOptions> {
  text: string;
  file: string;
}

export interface LintReport {
  file: string;
  config: CheckConfig;
  warnings: LintWarning[];
  /** The parse (or check directive) error that stopped the checks. */
  error?: TsbuildError;
}

export async function lintContainerfile(options: LintOptions): Promise<LintReport> {
  const { text, file } = options;
  const buildArgs = options.buildArgs ?? new Map<string, string>();
  let config: CheckConfig;
  try {
    config = checkConfigFor(text, file, buildArgs);
  } catch (err) {
    if (!isTsbuildError(err)) throw err;
    return { file, config: DEFAULT_CHECK_CONFIG, warnings: [], error: err };
  }
  const collector = createCollector(config);
  let error: TsbuildError | undefined;
  try {
    checkDuplicateStageNames(text, file, collector.report);
    const parsed = parseContainerfile(text, file);
    checkSyntax(parsed, collector.report);
    await checkStages(parsed, { ...options, buildArgs }, collector.report);
  } catch (err) {
    if (!isTsbuildError(err)) throw err;
    error = err;
  }
  return { file, config, warnings: collector.warnings(), ...(error && { error }) };
}

/**
 * What ends `tsbuild lint` and `bud --check` non-zero: the parse error, or (with error=true) the
 * rules that fired, in buildkit's words.
 */
export function lintFailure(report: LintReport): TsbuildError | undefined {
  if (report.error) return report.error;
  if (!report.config.error || report.warnings.length === 0) return undefined;
  const rules = [...new Set(report.warnings.map((w) => w.rule))];
  return new TsbuildError('INVALID_ARGUMENT', `${report.file}: lint violation found for rules: ${rules.join(', ')}`);
}
