// What a check reports, and the collector the rules report into: it drops rules the check config
// turns off and remembers which ones fired (for `# check=error=true`).
import type { SourceLocation } from '../containerfile/index.js';
import { ruleEnabled, type CheckConfig } from './options.js';
import { RULES, type RuleName } from './rules.js';

export interface LintWarning {
  rule: RuleName;
  description: string;
  url: string;
  message: string;
  file: string;
  line: number;
  column?: number;
}

export type Report = (rule: RuleName, loc: Pick<SourceLocation, 'file' | 'line'> & { column?: number }, message: string) => void;

export interface Collector {
  report: Report;
  /** Sorted by line; one warning per rule, line and message (a variable used twice on a line is one finding). */
  warnings(): LintWarning[];
}

export function createCollector(config: CheckConfig): Collector {
  const found = new Map<string, LintWarning>();
  return {
    report(rule, loc, message) {
      const def = RULES[rule];
      if (!ruleEnabled(config, def)) return;
      const key = `${loc.line}\0${rule}\0${message}`;
      if (found.has(key)) return;
      found.set(key, {
        rule,
        description: def.description,
        url: def.url,
        message,
        file: loc.file,
        line: loc.line,
        ...(loc.column !== undefined && { column: loc.column }),
      });
    },
    warnings: () => [...found.values()].sort((a, b) => a.line - b.line),
  };
}
