import { describe, expect, it } from 'vitest';
import { isTsbuildError } from '../../../src/errors.js';
import { parseContainerfile, parseHeredocWord, parseInstructionLine, type Instruction } from '../../../src/containerfile/index.js';
import { planRun } from '../../../src/build/heredoc.js';

const FILE = 'Containerfile';
const loc = { file: FILE, line: 1, column: 1 };

function stageOf(body: string): Instruction[] {
  return parseContainerfile(`FROM scratch\n${body}`, FILE).stages[0]?.instructions ?? [];
}

function errorOf(text: string): { message: string; excerpt?: string; column?: number } {
  try {
    parseContainerfile(text, FILE);
  } catch (err) {
    if (isTsbuildError(err, 'PARSE')) return { message: err.message, excerpt: err.source?.excerpt, column: err.source?.column };
    throw err;
  }
  throw new Error('expected a parse error');
}

describe('parseHeredocWord', () => {
  it('reads the delimiter, <<- and whether any part of it is quoted', () => {
    expect(parseHeredocWord('<<EOF', loc)).toEqual({ name: 'EOF', chomp: false, expand: true });
    expect(parseHeredocWord('<<-EOT', loc)).toEqual({ name: 'EOT', chomp: true, expand: true });
    expect(parseHeredocWord("<<'EOF'", loc)).toEqual({ name: 'EOF', chomp: false, expand: false });
    expect(parseHeredocWord('<<-"EOF"', loc)).toEqual({ name: 'EOF', chomp: true, expand: false });
    expect(parseHeredocWord('<<E"O"F', loc)).toEqual({ name: 'EOF', chomp: false, expand: false });
    expect(parseHeredocWord('3<<EOF', loc)).toEqual({ name: 'EOF', chomp: false, expand: true });
  });

  it('treats an escaped delimiter as unquoted, as BuildKit does', () => {
    expect(parseHeredocWord('<<\\EOF', loc)).toEqual({ name: 'EOF', chomp: false, expand: true });
  });

  it('is not a heredoc without a name, with a here-string, or with more than one word after <<', () => {
    expect(parseHeredocWord('<<', loc)).toBeUndefined();
    expect(parseHeredocWord('<<<word', loc)).toBeUndefined();
    expect(parseHeredocWord('<<EOF python3', loc)).toBeUndefined();
    expect(parseHeredocWord('a<<EOF', loc)).toBeUndefined();
  });
});

describe('parseContainerfile: heredocs', () => {
  it('reads the body of a RUN heredoc up to its delimiter, keeping line endings', () => {
    const [run, user] = stageOf('RUN <<EOF\necho a\n  echo b\nEOF\nUSER x\n');
    expect(run).toMatchObject({
      kind: 'RUN',
      command: { form: 'shell', command: '<<EOF' },
      heredocs: [{ name: 'EOF', content: 'echo a\n  echo b\n', chomp: false, expand: true, loc: { line: 3 } }],
      endLine: 5,
    });
    expect(user).toMatchObject({ kind: 'USER', loc: { line: 6 } });
  });

  it('does not treat body lines as instructions, comments or continuations', () => {
    const [run] = stageOf('RUN <<EOF\nFROM x \\\n# not a comment\n\nEOF\n');
    expect(run?.kind === 'RUN' && run.heredocs?.[0]?.content).toBe('FROM x \\\n# not a comment\n\n');
  });

  it('reads several heredocs in order, one body after the other', () => {
    const [run] = stageOf('RUN cat <<A >a && cat <<-"B" > b\none\nA\n\ttwo\n\tB\n');
    expect(run?.kind === 'RUN' && run.heredocs).toEqual([
      { name: 'A', chomp: false, expand: true, content: 'one\n', loc: { file: FILE, line: 3, column: 1 } },
      { name: 'B', chomp: true, expand: false, content: '\ttwo\n', loc: { file: FILE, line: 5, column: 1 } },
    ]);
  });

  it('ends a <<- body at a delimiter indented with tabs only', () => {
    const [run] = stageOf('RUN <<-EOF\n\tx\n  EOF\n\t\tEOF\n');
    expect(run?.kind === 'RUN' && run.heredocs?.[0]?.content).toBe('\tx\n  EOF\n');
  });

  it('reads heredocs after continuation lines and flags', () => {
    const [run] = stageOf('RUN --network=none \\\n  cat <<EOF\nbody\nEOF\n');
    expect(run).toMatchObject({ flags: [{ name: 'network', value: 'none' }], heredocs: [{ content: 'body\n' }], endLine: 5 });
  });

  it('keeps carriage returns of a CRLF body', () => {
    const [run] = stageOf('RUN <<EOF\r\necho a\r\nEOF\r\n');
    expect(run?.kind === 'RUN' && run.heredocs?.[0]?.content).toBe('echo a\r\n');
  });

  it('separates COPY heredoc sources from path sources', () => {
    const [copy] = stageOf('COPY --chmod=755 a <<A b <<"B" /dest/\nfirst\nA\nsecond\nB\n');
    expect(copy).toMatchObject({
      kind: 'COPY',
      sources: ['a', 'b'],
      dest: '/dest/',
      heredocs: [
        { name: 'A', content: 'first\n', expand: true },
        { name: 'B', content: 'second\n', expand: false },
      ],
    });
  });

  it('reads no heredoc in the exec form or in other instructions, as BuildKit', () => {
    expect(stageOf('RUN ["cat", "<<EOF"]\nUSER x\n').map((i) => i.kind)).toEqual(['RUN', 'USER']);
    expect(() => stageOf('CMD cat <<EOF\nhello\nEOF\n')).toThrow(/unknown instruction "HELLO"/);
  });

  it('keeps the bodies in an ONBUILD trigger so the child build reads them', () => {
    const [onbuild] = stageOf('ONBUILD RUN <<EOF\necho hi\nEOF\n');
    expect(onbuild).toMatchObject({ kind: 'ONBUILD', triggerText: 'RUN <<EOF\necho hi\nEOF', trigger: { kind: 'RUN', heredocs: [{ content: 'echo hi\n' }] } });
    const trigger = parseInstructionLine('RUN <<EOF\necho hi\nEOF', 'ONBUILD trigger of base', 1);
    expect(trigger).toMatchObject({ kind: 'RUN', heredocs: [{ name: 'EOF', content: 'echo hi\n' }] });
  });

  it('rejects an unterminated heredoc at the heredoc, with the source line', () => {
    expect(errorOf('FROM scratch\nRUN echo && cat <<-EOF\nbody\n')).toEqual({
      message: 'Containerfile:2:17: unterminated heredoc: no line "EOF" after line 2 ends it',
      excerpt: 'RUN echo && cat <<-EOF',
      column: 17,
    });
  });

  it('rejects a heredoc as the COPY destination', () => {
    expect(errorOf('FROM scratch\nCOPY a <<EOF\nx\nEOF\n').message).toBe('Containerfile:2:1: COPY cannot accept a heredoc as a destination');
  });
});

describe('planRun (BuildKit dispatchRun)', () => {
  const run = (body: string) => stageOf(body)[0] as Extract<Instruction, { kind: 'RUN' }>;

  it('gives the shell the body of a heredoc that is the whole command, tabs stripped for <<-', () => {
    expect(planRun(run('RUN <<EOF\necho a\nEOF\n'))).toEqual({ command: { form: 'shell', command: 'echo a\n' } });
    expect(planRun(run('RUN <<-EOF\n\techo a\n\tEOF\n'))).toEqual({ command: { form: 'shell', command: 'echo a\n' } });
  });

  it('runs a #! body as a script at /dev/pipes/<name>', () => {
    expect(planRun(run('RUN <<script\n#!/usr/bin/env python3\nprint(1)\nscript\n'))).toEqual({
      command: { form: 'shell', command: '/dev/pipes/script' },
      script: { name: 'script', data: '#!/usr/bin/env python3\nprint(1)\n' },
    });
  });

  it('reconstitutes any other heredoc line for the shell, bodies unstripped', () => {
    expect(planRun(run('RUN <<EOT python3\nprint(1)\nEOT\n')).command).toEqual({ form: 'shell', command: '<<EOT python3\nprint(1)\nEOT' });
    expect(planRun(run('RUN a <<A && b <<-B\n1\nA\n\t2\n\tB\n')).command).toEqual({ form: 'shell', command: 'a <<A && b <<-B\n1\nA\n\t2\nB' });
  });

  it('leaves a RUN without heredocs alone', () => {
    expect(planRun(run('RUN echo "<<EOF"\n'))).toEqual({ command: { form: 'shell', command: 'echo "<<EOF"' } });
  });
});
