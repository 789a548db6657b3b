// Checks that look only at how the Containerfile is written, in every stage whatever the target:
// keyword casing, stage names, MAINTAINER, empty continuation lines, description comments. BuildKit
// runs these while parsing (parser and instructions.Parse), before any stage is resolved.
import { DockerfileParser } from 'dockerfile-ast';
import type { Instruction, ParsedContainerfile } from '../containerfile/index.js';
import { MESSAGES } from './rules.js';
import type { Report } from './report.js';

const RESERVED_STAGE_NAMES = new Set(['context', 'scratch']);

/** The keyword as written (`from`, `Run`): the instruction text starts with it. */
export function keywordOf(instruction: Instruction): string {
  return instruction.text.split(/\s/, 1)[0] ?? '';
}

const isLower = (s: string): boolean => s === s.toLowerCase();
const isUpper = (s: string): boolean => s === s.toUpperCase();

/**
 * DuplicateStageName reads the FROM lines with dockerfile-ast rather than the parsed model, because
 * tsbuild's parser refuses a duplicate stage name outright (an error after this warning) where
 * BuildKit builds with the later stage taking the name.
 */
export function checkDuplicateStageNames(text: string, file: string, report: Report): void {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const seen = new Set<string>();
  for (const from of DockerfileParser.parse(body).getFROMs()) {
    const name = from.getBuildStage()?.toLowerCase();
    if (!name) continue;
    if (seen.has(name)) report('DuplicateStageName', { file, line: from.getRange().start.line + 1 }, MESSAGES.DuplicateStageName(name));
    seen.add(name);
  }
}

export function checkSyntax(parsed: ParsedContainerfile, report: Report): void {
  const source = parsed.lines;
  for (const stage of parsed.stages) {
    const from = stage.from;
    const fromKeyword = keywordOf(from);
    if (from.stageName !== undefined) {
      if (!isLower(from.stageName)) report('StageNameCasing', from.loc, MESSAGES.StageNameCasing(from.stageName));
      const words = from.text.trim().split(/\s+/);
      const as = words[words.length - 2] ?? '';
      // A keyword in mixed case is ConsistentInstructionCasing's business, not this rule's.
      const mismatch = isLower(fromKeyword) ? !isLower(as) : isUpper(fromKeyword) && !isUpper(as);
      if (mismatch) report('FromAsCasing', from.loc, MESSAGES.FromAsCasing(fromKeyword, as));
    }
    if (stage.name !== undefined && RESERVED_STAGE_NAMES.has(stage.name)) {
      report('ReservedStageName', from.loc, MESSAGES.ReservedStageName(stage.name));
    }
    for (const instruction of stage.instructions) {
      if (instruction.kind === 'MAINTAINER') report('MaintainerDeprecated', instruction.loc, MESSAGES.MaintainerDeprecated());
    }
  }
  checkCasing(parsed, report);
  checkDescriptions(parsed, source, report);
  const all = [...parsed.globalArgs, ...parsed.stages.flatMap((s) => [s.from, ...s.instructions])];
  for (const instruction of all) checkContinuation(instruction, source, parsed.escapeChar, report);
}

/**
 * ConsistentInstructionCasing: the majority casing of the keywords of all stages (global ARGs are not
 * counted, as in BuildKit; a tie counts as upper case) and every keyword not written that way.
 */
function checkCasing(parsed: ParsedContainerfile, report: Report): void {
  const instructions = parsed.stages.flatMap((s) => [s.from, ...s.instructions]);
  let lower = 0;
  let upper = 0;
  for (const instruction of instructions) {
    const keyword = keywordOf(instruction);
    if (isLower(keyword)) lower++;
    else if (isUpper(keyword)) upper++;
  }
  const majorityLower = lower > upper;
  for (const instruction of instructions) {
    const keyword = keywordOf(instruction);
    if (majorityLower && !isLower(keyword)) report('ConsistentInstructionCasing', instruction.loc, MESSAGES.ConsistentInstructionCasing(keyword, 'lowercase'));
    if (!majorityLower && !isUpper(keyword)) report('ConsistentInstructionCasing', instruction.loc, MESSAGES.ConsistentInstructionCasing(keyword, 'uppercase'));
  }
}

/**
 * NoEmptyContinuation: a blank line inside a continued instruction (comment lines are fine). Reported
 * once per instruction, on its last line, as BuildKit's parser does. Only the continued part counts:
 * what follows the last continuation (a heredoc body) may hold blank lines.
 */
function checkContinuation(instruction: Instruction, source: readonly string[], escapeChar: string, report: Report): void {
  let continuing = false;
  let empty = false;
  let last = instruction.loc.line;
  for (let n = instruction.loc.line; n <= instruction.endLine; n++) {
    const line = source[n - 1] ?? '';
    if (n > instruction.loc.line && /^\s*#/.test(line)) continue;
    if (/^\s*$/.test(line)) {
      if (!continuing) break;
      empty = true;
      continue;
    }
    last = n;
    continuing = line.replace(/[ \t]+$/, '').endsWith(escapeChar);
    if (!continuing) break;
  }
  if (empty) report('NoEmptyContinuation', { file: instruction.loc.file, line: last }, MESSAGES.NoEmptyContinuation());
}

/**
 * InvalidDefinitionDescription (experimental): the comment right above a named FROM or an ARG (no
 * blank line between) documents it, so it must start with the stage or ARG name.
 */
function checkDescriptions(parsed: ParsedContainerfile, source: readonly string[], report: Report): void {
  const directives = directiveLines(source);
  const check = (kind: 'FROM' | 'ARG', names: string[], instruction: Instruction): void => {
    const above = instruction.loc.line - 1;
    const comment = source[above - 1];
    if (names.length === 0 || above <= directives || comment === undefined || !/^\s*#/.test(comment)) return;
    const first = comment.trim().replace(/^#\s*/, '').split(' ')[0] ?? '';
    if (names.includes(first)) return;
    report('InvalidDefinitionDescription', instruction.loc, MESSAGES.InvalidDefinitionDescription(kind, names.length > 1 ? '<arg_key>' : names[0]!));
  };
  for (const arg of parsed.globalArgs) check('ARG', arg.args.map((a) => a.name), arg);
  for (const stage of parsed.stages) {
    check('FROM', stage.name === undefined ? [] : [stage.name], stage.from);
    for (const instruction of stage.instructions) {
      if (instruction.kind === 'ARG') check('ARG', instruction.args.map((a) => a.name), instruction);
    }
  }
}

/** How many lines at the top are parser directives (`# key=value`), which describe nothing. */
function directiveLines(source: readonly string[]): number {
  let n = 0;
  while (n < source.length && /^#\s*[a-zA-Z][a-zA-Z0-9]*\s*=/.test(source[n]!)) n++;
  return n;
}
