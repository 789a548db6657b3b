import { describe, expect, it } from 'vitest';
import { isTsbuildError } from '../../../src/errors.js';
import {
  flagEnabled,
  flagValue,
  flagValues,
  parseContainerfile,
  parseInstructionLine,
  wordLoc,
  type Instruction,
} from '../../../src/containerfile/index.js';

const FILE = 'Containerfile';

/** The instructions of the only stage of `FROM scratch\n<body>`. */
function stageOf(body: string): Instruction[] {
  const parsed = parseContainerfile(`FROM scratch\n${body}`, FILE);
  return parsed.stages[0]?.instructions ?? [];
}

function one<K extends Instruction['kind']>(body: string, kind: K): Instruction & { kind: K } {
  const [first] = stageOf(body);
  expect(first?.kind).toBe(kind);
  return first as Instruction & { kind: K };
}

function parseErrorOf(text: string, file = FILE): string {
  try {
    parseContainerfile(text, file);
  } catch (err) {
    if (isTsbuildError(err, 'PARSE')) return err.message;
    throw err;
  }
  throw new Error('expected a parse error');
}

describe('parseContainerfile: stages and positions', () => {
  it('groups instructions into stages after each FROM, with lower-cased stage names', () => {
    const parsed = parseContainerfile('FROM alpine:3 AS Build\nRUN make\nFROM scratch\nCOPY --from=build /out /\n', FILE);
    expect(parsed.file).toBe(FILE);
    expect(parsed.escapeChar).toBe('\\');
    expect(parsed.stages).toHaveLength(2);
    expect(parsed.stages[0]).toMatchObject({ index: 0, name: 'build', from: { kind: 'FROM', image: 'alpine:3', stageName: 'Build' } });
    expect(parsed.stages[0]?.instructions.map((i) => i.kind)).toEqual(['RUN']);
    expect(parsed.stages[1]).toMatchObject({ index: 1, from: { image: 'scratch' } });
    expect(parsed.stages[1]?.name).toBeUndefined();
  });

  it('reads instruction keywords case-insensitively', () => {
    expect(stageOf('run echo hi\nWorkDir /app').map((i) => i.kind)).toEqual(['RUN', 'WORKDIR']);
  });

  it('keeps ARGs before the first FROM as global ARGs', () => {
    const parsed = parseContainerfile('# a comment\nARG VERSION=3.19\nARG EXTRA\nFROM alpine:${VERSION}\n', FILE);
    expect(parsed.globalArgs.map((a) => a.args)).toEqual([[{ name: 'VERSION', defaultValue: '3.19' }], [{ name: 'EXTRA' }]]);
    expect(parsed.stages[0]?.from.image).toBe('alpine:${VERSION}');
  });

  it('records 1-based line and column of the keyword, and the last line of a continued instruction', () => {
    const parsed = parseContainerfile('FROM scratch\n\n  RUN echo a \\\n    && echo b\nUSER x\n', FILE);
    const [run, user] = parsed.stages[0]?.instructions ?? [];
    expect(parsed.stages[0]?.from.loc).toEqual({ file: FILE, line: 1, column: 1 });
    expect(run?.loc).toEqual({ file: FILE, line: 3, column: 3 });
    expect(run?.endLine).toBe(4);
    expect(user?.loc.line).toBe(5);
    expect(user?.endLine).toBe(5);
  });

  it('joins continuation lines without a separator and skips comment and blank lines inside them', () => {
    const run = one('RUN echo a \\\n# a comment\n\n   && echo b \\  \n  && echo c', 'RUN');
    expect(run.command).toEqual({ form: 'shell', command: 'echo a    && echo b   && echo c' });
    expect(run.text).toBe('RUN echo a    && echo b   && echo c');
    expect(run.endLine).toBe(6);
  });

  it('honours the escape directive with a backtick, leaving backslashes literal', () => {
    const parsed = parseContainerfile('# escape=`\nFROM scratch\nRUN dir c:\\ `\n  && echo done\nCOPY a `\n  c:\\dest\\\n', FILE);
    expect(parsed.escapeChar).toBe('`');
    const [run, copy] = parsed.stages[0]?.instructions ?? [];
    expect(run).toMatchObject({ kind: 'RUN', command: { form: 'shell', command: 'dir c:\\   && echo done' }, loc: { line: 3 }, endLine: 4 });
    expect(copy).toMatchObject({ kind: 'COPY', sources: ['a'], dest: 'c:\\dest\\' });
  });

  it('accepts a backslash escape directive written with spaces and upper case', () => {
    expect(parseContainerfile('#  ESCAPE = \\\nFROM scratch\n', FILE).escapeChar).toBe('\\');
  });

  it('ignores an escape directive that comes after a comment, as Docker does', () => {
    expect(parseContainerfile('# hello\n# escape=`\nFROM scratch\n', FILE).escapeChar).toBe('\\');
  });

  it('rejects an escape directive other than backslash or backtick', () => {
    expect(parseErrorOf('# escape=x\nFROM scratch\n')).toMatch(/^Containerfile:1:1: invalid escape character "x"/);
  });

  it('handles CRLF line endings', () => {
    const run = one('RUN echo a \\\r\n  b\r\nUSER u\r\n', 'RUN');
    expect(run.command).toEqual({ form: 'shell', command: 'echo a   b' });
  });
});

describe('parseContainerfile: instruction forms', () => {
  it('parses FROM with --platform and AS', () => {
    const from = parseContainerfile('FROM --platform=$BUILDPLATFORM golang:1.22 as builder\n', FILE).stages[0]?.from;
    expect(from).toMatchObject({ image: 'golang:1.22', stageName: 'builder', platform: '$BUILDPLATFORM' });
    expect(from?.flags).toEqual([{ name: 'platform', value: '$BUILDPLATFORM', loc: { file: FILE, line: 1, column: 6 } }]);
  });

  it('parses RUN in shell form and exec form, and falls back to shell form for invalid JSON', () => {
    expect(one('RUN echo "hi there"', 'RUN').command).toEqual({ form: 'shell', command: 'echo "hi there"' });
    expect(one('RUN ["echo", "hi there"]', 'RUN').command).toEqual({ form: 'exec', args: ['echo', 'hi there'] });
    expect(one("RUN ['echo', 'x']", 'RUN').command).toEqual({ form: 'shell', command: "['echo', 'x']" });
  });

  it('parses RUN flags generically, keeping every --mount', () => {
    const run = one('RUN --mount=type=cache,target=/root/.cache --mount=type=tmpfs,target=/tmp --network=none make', 'RUN');
    expect(flagValues(run, 'mount')).toEqual(['type=cache,target=/root/.cache', 'type=tmpfs,target=/tmp']);
    expect(flagValue(run, 'network')).toBe('none');
    expect(run.command).toEqual({ form: 'shell', command: 'make' });
  });

  it('records the position of a flag on a continuation line', () => {
    const run = one('RUN \\\n  --network=host \\\n  true', 'RUN');
    expect(run.flags[0]?.loc).toEqual({ file: FILE, line: 3, column: 3 });
  });

  it('removes quotes from flag values', () => {
    expect(flagValue(one('COPY --chown="app user" a /b', 'COPY'), 'chown')).toBe('app user');
  });

  it('parses CMD and ENTRYPOINT in both forms, allowing an empty exec form', () => {
    expect(one('CMD ["nginx", "-g", "daemon off;"]', 'CMD').command).toEqual({ form: 'exec', args: ['nginx', '-g', 'daemon off;'] });
    expect(one('CMD echo $HOME', 'CMD').command).toEqual({ form: 'shell', command: 'echo $HOME' });
    expect(one('ENTRYPOINT []', 'ENTRYPOINT').command).toEqual({ form: 'exec', args: [] });
    expect(one('ENTRYPOINT ["/entry.sh"]', 'ENTRYPOINT').command).toEqual({ form: 'exec', args: ['/entry.sh'] });
  });

  it('parses COPY and ADD with the last word as destination, in shell and JSON form', () => {
    expect(one('COPY a b /dest/', 'COPY')).toMatchObject({ sources: ['a', 'b'], dest: '/dest/' });
    expect(one('ADD ["my file", "other", "/my dest/"]', 'ADD')).toMatchObject({ sources: ['my file', 'other'], dest: '/my dest/' });
    expect(one('COPY $SRC ${DEST}', 'COPY')).toMatchObject({ sources: ['$SRC'], dest: '${DEST}' });
  });

  it('parses COPY flags, boolean --link included', () => {
    const copy = one('COPY --from=build --chown=1000:1000 --chmod=0755 --link --exclude=*.md --exclude=*.txt . /app', 'COPY');
    expect(flagValue(copy, 'from')).toBe('build');
    expect(flagValue(copy, 'chown')).toBe('1000:1000');
    expect(flagValue(copy, 'chmod')).toBe('0755');
    expect(flagEnabled(copy, 'link')).toBe(true);
    expect(copy.flags.find((f) => f.name === 'link')?.value).toBeUndefined();
    expect(flagValues(copy, 'exclude')).toEqual(['*.md', '*.txt']);
    expect(flagEnabled(one('COPY --link=false a b', 'COPY'), 'link')).toBe(false);
  });

  it('parses ADD-only flags', () => {
    const add = one('ADD --checksum=sha256:abc --keep-git-dir --unpack=true https://x/y.tar /', 'ADD');
    expect(add.flags.map((f) => [f.name, f.value])).toEqual([['checksum', 'sha256:abc'], ['keep-git-dir', undefined], ['unpack', 'true']]);
  });

  it('treats a lone -- as the end of the flags', () => {
    expect(one('RUN -- --version', 'RUN')).toMatchObject({ flags: [], command: { form: 'shell', command: '--version' } });
  });

  it('parses ARG with and without defaults, several per line', () => {
    expect(one('ARG A B=2 C="x y"', 'ARG').args).toEqual([{ name: 'A' }, { name: 'B', defaultValue: '2' }, { name: 'C', defaultValue: '"x y"' }]);
  });

  it('parses WORKDIR, USER, STOPSIGNAL and MAINTAINER as the whole rest of the line', () => {
    expect(one('WORKDIR /my app', 'WORKDIR').path).toBe('/my app');
    expect(one('USER app:staff', 'USER').user).toBe('app:staff');
    expect(one('STOPSIGNAL SIGTERM', 'STOPSIGNAL').signal).toBe('SIGTERM');
    expect(one('MAINTAINER Jane <jane@example.com>', 'MAINTAINER').name).toBe('Jane <jane@example.com>');
  });

  it('parses EXPOSE as whitespace-separated raw words', () => {
    expect(one('EXPOSE 80/tcp 443 $PORTS', 'EXPOSE').ports).toEqual(['80/tcp', '443', '$PORTS']);
  });

  it('parses VOLUME in shell and JSON form', () => {
    expect(one('VOLUME /data /logs', 'VOLUME').paths).toEqual(['/data', '/logs']);
    expect(one('VOLUME ["/var/my data"]', 'VOLUME').paths).toEqual(['/var/my data']);
  });

  it('parses SHELL, which must be JSON', () => {
    expect(one('SHELL ["/bin/bash", "-o", "pipefail", "-c"]', 'SHELL').shell).toEqual(['/bin/bash', '-o', 'pipefail', '-c']);
    expect(parseErrorOf('FROM scratch\nSHELL /bin/bash -c')).toMatch(/^Containerfile:2:1: SHELL requires the arguments to be in JSON form/);
  });

  it('rejects a JSON array that holds something other than strings', () => {
    expect(parseErrorOf('FROM scratch\nCMD ["a", 1]')).toBe('Containerfile:2:1: CMD JSON form must be an array of strings');
  });
});

describe('parseContainerfile: ENV and LABEL', () => {
  it('parses key=value pairs keeping quotes and escapes for the expander', () => {
    const env = one('ENV A="x y" B=\'$z\' C=a\\ b D=', 'ENV');
    expect(env.pairs).toEqual([
      { key: 'A', value: '"x y"' },
      { key: 'B', value: "'$z'" },
      { key: 'C', value: 'a\\ b' },
      { key: 'D', value: '' },
    ]);
  });

  it('keeps an escaped quote inside a double-quoted value', () => {
    expect(one('LABEL description="say \\"hi\\"" version=1', 'LABEL').pairs).toEqual([
      { key: 'description', value: '"say \\"hi\\""' },
      { key: 'version', value: '1' },
    ]);
  });

  it('parses pairs spread over continuation lines', () => {
    expect(one('ENV A=1 \\\n    B=2', 'ENV').pairs).toEqual([{ key: 'A', value: '1' }, { key: 'B', value: '2' }]);
  });

  it('supports the legacy "ENV key value with spaces" form', () => {
    expect(one('ENV PATH_EXTRA  /opt/bin /usr/local/bin', 'ENV').pairs).toEqual([{ key: 'PATH_EXTRA', value: '/opt/bin /usr/local/bin' }]);
    expect(one('LABEL maintainer "Jane Doe"', 'LABEL').pairs).toEqual([{ key: 'maintainer', value: '"Jane Doe"' }]);
  });

  it('rejects the legacy form without a value, and a pair without =', () => {
    expect(parseErrorOf('FROM scratch\nENV ALONE')).toMatch(/^Containerfile:2:5: ENV must have two arguments/);
    expect(parseErrorOf('FROM scratch\nENV A=1 B')).toMatch(/^Containerfile:2:9: can't find = in "B"/);
    expect(parseErrorOf('FROM scratch\nLABEL =x')).toBe('Containerfile:2:7: LABEL names can not be blank');
  });

  it('rejects an unterminated quote at the line of the quote', () => {
    expect(parseErrorOf('FROM scratch\nENV A=1 \\\n  B="oops')).toBe('Containerfile:3:5: unterminated double quote');
    expect(parseErrorOf("FROM scratch\nLABEL a='x")).toBe('Containerfile:2:9: unterminated single quote');
  });
});

describe('parseContainerfile: HEALTHCHECK', () => {
  it('parses HEALTHCHECK NONE', () => {
    expect(one('HEALTHCHECK NONE', 'HEALTHCHECK').test).toBe('NONE');
  });

  it('parses HEALTHCHECK CMD with all five flags', () => {
    const hc = one('HEALTHCHECK --interval=30s --timeout=3s --start-period=1m --start-interval=500ms --retries=3 \\\n  CMD curl -f http://localhost/', 'HEALTHCHECK');
    expect(hc).toMatchObject({
      test: { form: 'shell', command: 'curl -f http://localhost/' },
      interval: '30s',
      timeout: '3s',
      startPeriod: '1m',
      startInterval: '500ms',
      retries: '3',
    });
    expect(hc.flags).toHaveLength(5);
  });

  it('parses HEALTHCHECK CMD in exec form', () => {
    expect(one('HEALTHCHECK cmd ["/check", "--quick"]', 'HEALTHCHECK').test).toEqual({ form: 'exec', args: ['/check', '--quick'] });
  });

  it('rejects bad HEALTHCHECK forms and values', () => {
    expect(parseErrorOf('FROM scratch\nHEALTHCHECK NONE extra')).toBe('Containerfile:2:1: HEALTHCHECK NONE takes no arguments');
    expect(parseErrorOf('FROM scratch\nHEALTHCHECK CMD')).toBe('Containerfile:2:1: missing command after HEALTHCHECK CMD');
    expect(parseErrorOf('FROM scratch\nHEALTHCHECK RUN x')).toMatch(/^Containerfile:2:1: unknown type "RUN" in HEALTHCHECK/);
    expect(parseErrorOf('FROM scratch\nHEALTHCHECK --interval=soon CMD x')).toMatch(/^Containerfile:2:13: --interval must be a duration/);
    expect(parseErrorOf('FROM scratch\nHEALTHCHECK --retries=-1 CMD x')).toMatch(/^Containerfile:2:13: --retries must be a non-negative integer/);
  });
});

describe('parseContainerfile: ONBUILD', () => {
  it('parses the trigger as an instruction of its own, with its flags and position', () => {
    const onbuild = one('ONBUILD COPY --chown=app . /src', 'ONBUILD');
    expect(onbuild.triggerText).toBe('COPY --chown=app . /src');
    expect(onbuild.trigger).toMatchObject({ kind: 'COPY', sources: ['.'], dest: '/src', loc: { line: 2, column: 9 } });
    expect(flagValue(onbuild.trigger, 'chown')).toBe('app');
    expect(onbuild.flags).toEqual([]);
  });

  it('keeps the trigger text of a continued ONBUILD joined on one line', () => {
    expect(one('onbuild run echo a \\\n  b', 'ONBUILD').triggerText).toBe('run echo a   b');
  });

  it('rejects ONBUILD ONBUILD, ONBUILD FROM and ONBUILD MAINTAINER', () => {
    expect(parseErrorOf('FROM scratch\nONBUILD ONBUILD RUN x')).toBe('Containerfile:2:1: chaining ONBUILD via ONBUILD ONBUILD is not allowed');
    expect(parseErrorOf('FROM scratch\nONBUILD FROM alpine')).toBe('Containerfile:2:1: FROM is not allowed as an ONBUILD trigger');
    expect(parseErrorOf('FROM scratch\nONBUILD MAINTAINER me')).toBe('Containerfile:2:1: MAINTAINER is not allowed as an ONBUILD trigger');
  });

  it('rejects an unknown trigger instruction', () => {
    expect(parseErrorOf('FROM scratch\n\nONBUILD FOO x')).toBe('Containerfile:3:9: unknown instruction "FOO"');
  });
});

describe('parseInstructionLine (ONBUILD triggers from a base image)', () => {
  it('parses a stored trigger at the given line', () => {
    const run = parseInstructionLine('RUN echo "from base"', 'base image alpine', 1);
    expect(run).toMatchObject({ kind: 'RUN', command: { form: 'shell', command: 'echo "from base"' }, loc: { file: 'base image alpine', line: 1, column: 1 } });
    expect(parseInstructionLine('COPY --from=0 /a /b', 'x', 2)).toMatchObject({ kind: 'COPY', flags: [{ name: 'from', value: '0' }] });
  });

  it('rejects triggers that may not be triggers', () => {
    expect(() => parseInstructionLine('FROM alpine', 'base', 4)).toThrow('base:4:1: FROM is not allowed as an ONBUILD trigger');
    expect(() => parseInstructionLine('ONBUILD RUN x', 'base', 1)).toThrow('base:1:1: ONBUILD is not allowed as an ONBUILD trigger');
  });
});

describe('parseContainerfile: errors', () => {
  it('rejects an unknown instruction with file and line', () => {
    expect(parseErrorOf('FROM scratch\nRUN true\nFOO bar\n', 'build/Containerfile')).toBe('build/Containerfile:3:1: unknown instruction "FOO"');
  });

  it('rejects an instruction before the first FROM, but allows ARG', () => {
    expect(parseErrorOf('ARG X\n\nRUN echo\nFROM scratch')).toBe('Containerfile:3:1: RUN before the first FROM: only ARG may come before FROM');
  });

  it('rejects a file with no FROM', () => {
    expect(parseErrorOf('# only a comment\n')).toMatch(/^Containerfile:1: no FROM instruction/);
    expect(parseErrorOf('ARG A=1\n')).toMatch(/^Containerfile:1: no FROM instruction/);
  });

  it('rejects instructions missing their arguments', () => {
    expect(parseErrorOf('FROM scratch\nRUN\n')).toBe('Containerfile:2:1: RUN requires at least one argument');
    expect(parseErrorOf('FROM scratch\n\nWORKDIR   \n')).toBe('Containerfile:3:1: WORKDIR requires at least one argument');
    expect(parseErrorOf('FROM scratch\nCOPY onlyone\n')).toMatch(/^Containerfile:2:1: COPY requires at least two arguments/);
    expect(parseErrorOf('FROM\n')).toBe('Containerfile:1:1: FROM requires at least one argument');
    expect(parseErrorOf('FROM scratch\nRUN --network=none\n')).toBe('Containerfile:2:1: RUN requires at least one argument');
  });

  it('rejects a FROM with a bad shape or stage name', () => {
    expect(parseErrorOf('FROM a b\n')).toMatch(/^Containerfile:1:1: FROM requires either one or three arguments/);
    expect(parseErrorOf('FROM a AS 1st\n')).toMatch(/^Containerfile:1:1: invalid stage name "1st"/);
  });

  it('rejects duplicate stage names, ignoring case', () => {
    expect(parseErrorOf('FROM a AS one\nFROM b AS ONE\n')).toBe('Containerfile:2:1: duplicate stage name "one" (first used on line 1)');
  });

  it('rejects a flag the instruction does not have, at the line of the flag', () => {
    expect(parseErrorOf('FROM scratch\nCOPY --form=build a b\n')).toMatch(/^Containerfile:2:6: unknown flag --form for COPY \(allowed: --from, /);
    expect(parseErrorOf('FROM scratch\nRUN \\\n  --bogus true\n')).toMatch(/^Containerfile:3:3: unknown flag --bogus for RUN/);
    expect(parseErrorOf('FROM scratch\nENV --x=1 A=1\n')).toBe('Containerfile:2:5: unknown flag --x for ENV (it takes no flags)');
    expect(parseErrorOf('FROM scratch\nADD --from=x a b\n')).toMatch(/^Containerfile:2:5: unknown flag --from for ADD/);
    expect(parseErrorOf('FROM --chown=x alpine\n')).toMatch(/^Containerfile:1:6: unknown flag --chown for FROM/);
  });

  it('rejects malformed flags', () => {
    expect(parseErrorOf('FROM scratch\nCOPY --from a b\n')).toBe('Containerfile:2:6: missing a value on flag --from (write --from=<value>)');
    expect(parseErrorOf('FROM scratch\nCOPY --=x a b\n')).toBe('Containerfile:2:6: malformed flag "--=x"');
    expect(parseErrorOf('FROM scratch\nCOPY --link=maybe a b\n')).toBe('Containerfile:2:6: flag --link expects true or false, not "maybe"');
    expect(parseErrorOf('FROM scratch\nCOPY --from=a --from=b a b\n')).toBe('Containerfile:2:15: duplicate flag --from');
    expect(parseErrorOf('FROM scratch\nCOPY --chown="x a b\n')).toMatch(/^Containerfile:2:6: unterminated quote in flag/);
  });

  it('throws TsbuildError with code PARSE', () => {
    expect(() => parseContainerfile('FROM scratch\nNOPE\n', FILE)).toThrow(expect.objectContaining({ code: 'PARSE' }));
  });
});

describe('parseContainerfile: parser directives', () => {
  it('reads syntax, escape and check directives at the top, in any case and spacing', () => {
    const parsed = parseContainerfile('# syntax=docker/dockerfile:1.7\n#ESCAPE = `\n#  check = skip=JSONArgsRecommended,StageNameCasing;error=true\nFROM scratch\n', FILE);
    expect(parsed.directives).toEqual({
      syntax: 'docker/dockerfile:1.7',
      escape: '`',
      check: { skip: ['JSONArgsRecommended', 'StageNameCasing'], skipAll: false, error: true },
    });
    expect(parsed.escapeChar).toBe('`');
  });

  it('reads check=skip=all and error alone', () => {
    expect(parseContainerfile('# check=skip=all\nFROM scratch\n', FILE).directives.check).toEqual({ skip: [], skipAll: true, error: false });
    expect(parseContainerfile('# check=error=true\nFROM scratch\n', FILE).directives.check).toEqual({ skip: [], skipAll: false, error: true });
  });

  it('stops reading directives at a blank line, another comment or an instruction, as BuildKit does', () => {
    expect(parseContainerfile('\n# syntax=x\nFROM scratch\n', FILE).directives).toEqual({});
    expect(parseContainerfile('# a comment\n# check=skip=all\nFROM scratch\n', FILE).directives).toEqual({});
    expect(parseContainerfile('# unknown=1\n# syntax=x\nFROM scratch\n', FILE).directives).toEqual({});
    expect(parseContainerfile('FROM scratch\n# syntax=x\n', FILE).directives).toEqual({});
  });

  it('rejects a repeated directive and a bad check value at their line', () => {
    expect(parseErrorOf('# syntax=a\n# syntax=b\nFROM scratch\n')).toBe('Containerfile:2:1: only one syntax parser directive can be used');
    expect(parseErrorOf('# check=skip\nFROM scratch\n')).toMatch(/^Containerfile:1:1: invalid check option "skip"/);
    expect(parseErrorOf('# check=error=maybe\nFROM scratch\n')).toMatch(/^Containerfile:1:1: invalid check option "error=maybe": error must be true or false/);
    expect(parseErrorOf('# check=fail=1\nFROM scratch\n')).toMatch(/^Containerfile:1:1: invalid check option "fail"/);
  });
});

describe('parseContainerfile: error positions', () => {
  function sourceOf(text: string): unknown {
    try {
      parseContainerfile(text, FILE);
    } catch (err) {
      if (isTsbuildError(err)) return err.source;
    }
    throw new Error('expected an error');
  }

  it('names line and column and carries the source line, for the CLI excerpt', () => {
    expect(parseErrorOf('FROM scratch\n  FORM busybox\n')).toBe('Containerfile:2:3: unknown instruction "FORM" (did you mean FROM?)');
    expect(sourceOf('FROM scratch\n  FORM busybox\n')).toEqual({ file: FILE, line: 2, column: 3, excerpt: '  FORM busybox' });
    expect(sourceOf('FROM scratch\nCOPY --form=x a b\n')).toEqual({ file: FILE, line: 2, column: 6, excerpt: 'COPY --form=x a b' });
    expect(sourceOf('FROM scratch\nENV A="x\n')).toEqual({ file: FILE, line: 2, column: 7, excerpt: 'ENV A="x' });
  });

  it('checks option values the parser knows at the flag', () => {
    expect(sourceOf('FROM scratch\nHEALTHCHECK --timeout=5 CMD true\n')).toMatchObject({ line: 2, column: 13 });
  });
});

describe('wordLoc', () => {
  it('points at a word of a one-line instruction, and at the keyword of a continued one', () => {
    const [one, continued] = stageOf('  ENV A=${B}\nENV \\\n  C=${D}\n');
    expect(wordLoc(one!, '${B}')).toEqual({ file: FILE, line: 2, column: 9 });
    expect(wordLoc(continued!, '${D}')).toEqual(continued!.loc);
  });
});
