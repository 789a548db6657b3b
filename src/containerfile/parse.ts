// Parses a whole Containerfile: dockerfile-ast finds the parser directives and where each instruction
// starts and ends (continuations, comments, later heredocs); words.ts and instructions.ts then read
// each instruction with Docker's own splitting rules, and the instructions are grouped into stages.
import { DockerfileParser } from 'dockerfile-ast';
import type { ArgInstruction, Instruction, ParsedContainerfile, Stage } from './model.js';
import { parseInstruction } from './instructions.js';
import { joinLines, parseError, singleLine } from './words.js';

export function parseContainerfile(text: string, file: string): ParsedContainerfile {
  // A BOM is stripped before dockerfile-ast sees the text so that its ranges index our lines directly.
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const dockerfile = DockerfileParser.parse(body);
  const escapeChar = escapeDirective(dockerfile, file);
  const source = body.split(/\r?\n/);

  const globalArgs: ArgInstruction[] = [];
  const stages: Stage[] = [];
  const byName = new Map<string, Stage>();
  for (const node of dockerfile.getInstructions()) {
    const { start, end } = node.getRange();
    const ll = joinLines(source, start.line, start.character, end.line, escapeChar, file);
    rejectUnreadLines(source, ll.lines[ll.lines.length - 1] ?? start.line + 1, end.line, file);
    const instruction = parseInstruction(ll, { escapeChar, endLine: end.line + 1 });
    const current = stages[stages.length - 1];
    if (instruction.kind === 'FROM') {
      const name = instruction.stageName?.toLowerCase();
      const stage: Stage = { index: stages.length, ...(name && { name }), from: instruction, instructions: [] };
      if (name !== undefined) {
        const earlier = byName.get(name);
        if (earlier) {
          throw parseError(instruction.loc, `duplicate stage name "${name}" (first used on line ${earlier.from.loc.line})`);
        }
        byName.set(name, stage);
      }
      stages.push(stage);
    } else if (current) {
      current.instructions.push(instruction);
    } else if (instruction.kind === 'ARG') {
      globalArgs.push(instruction);
    } else {
      throw parseError(instruction.loc, `${instruction.kind} before the first FROM: only ARG may come before FROM`);
    }
  }
  if (stages.length === 0) {
    throw parseError({ file, line: 1 }, 'no FROM instruction: a Containerfile needs at least one stage');
  }
  return { file, escapeChar, globalArgs, stages };
}

/**
 * Parses one ONBUILD trigger as stored in a base image's config (`RUN echo x`). Triggers are always
 * read with the default escape character, as Docker does, and may not be ONBUILD, FROM or MAINTAINER.
 */
export function parseInstructionLine(text: string, file: string, line: number): Instruction {
  const instruction = parseInstruction(singleLine(text, file, line), { escapeChar: '\\', endLine: line });
  if (instruction.kind === 'ONBUILD' || instruction.kind === 'FROM' || instruction.kind === 'MAINTAINER') {
    throw parseError(instruction.loc, `${instruction.kind} is not allowed as an ONBUILD trigger`);
  }
  return instruction;
}

/**
 * dockerfile-ast extends an instruction over the body of a heredoc (`RUN <<EOF`), which the joined
 * line does not include. Until heredocs are supported, refuse them rather than drop their body.
 * `lastRead` is 1-based, `rangeEnd` 0-based.
 */
function rejectUnreadLines(source: readonly string[], lastRead: number, rangeEnd: number, file: string): void {
  for (let n = lastRead; n <= rangeEnd; n++) {
    const line = source[n] ?? '';
    if (!/^\s*(#.*)?$/.test(line)) {
      throw parseError({ file, line: lastRead }, 'heredocs (<<EOF) are not supported yet');
    }
  }
}

/** dockerfile-ast silently falls back to `\` for an invalid escape directive; Docker rejects it. */
function escapeDirective(dockerfile: ReturnType<typeof DockerfileParser.parse>, file: string): string {
  const escapes = dockerfile.getDirectives().filter((d) => d.getName().toLowerCase() === 'escape');
  const second = escapes[1];
  if (second) throw parseError({ file, line: second.getRange().start.line + 1 }, 'only one escape parser directive can be used');
  const directive = escapes[0];
  if (directive) {
    const value = directive.getValue();
    if (value !== '\\' && value !== '`') {
      throw parseError({ file, line: directive.getRange().start.line + 1 }, `invalid escape character "${value}": it must be \\ or \``);
    }
    return value;
  }
  return dockerfile.getEscapeCharacter();
}
