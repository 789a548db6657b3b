// How check results read: one line per warning (`FILE:LINE Rule: message (url)`) and buildx's
// summary for `tsbuild lint` / `bud --check`; `[Warning] ...` lines during a build; and JSON with the
// field names of BuildKit's lint result (ruleName, description, url, detail, buildError).
import type { LintReport } from './index.js';
import type { LintWarning } from './report.js';

const where = (w: LintWarning): string => `${w.file}:${w.line}`;

export function formatText(report: LintReport): string {
  const lines = report.warnings.map((w) => `${where(w)} ${w.rule}: ${w.message} (${w.url})`);
  const n = report.warnings.length;
  lines.push(n === 0 ? 'Check complete, no warnings found.' : `Check complete, ${n} warning${n === 1 ? ' has' : 's have'} been found!`);
  return `${lines.join('\n')}\n`;
}

export function formatBuildWarning(w: LintWarning): string {
  return `[Warning] ${where(w)} ${w.rule}: ${w.message}\n`;
}

export function formatJson(report: LintReport): string {
  const warnings = report.warnings.map((w) => ({
    ruleName: w.rule,
    description: w.description,
    url: w.url,
    detail: w.message,
    location: { file: w.file, line: w.line, ...(w.column !== undefined && { column: w.column }) },
  }));
  return `${JSON.stringify({ warnings, ...(report.error && { buildError: { message: report.error.message } }) }, null, 2)}\n`;
}
