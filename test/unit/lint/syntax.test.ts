import { describe, expect, it } from 'vitest';
import { findings, findingsOf, report } from './helpers.js';

describe('StageNameCasing and FromAsCasing', () => {
  it('warns about a stage name that is not lower case, naming it as written', async () => {
    expect(await findingsOf('StageNameCasing', 'FROM scratch AS BadStageName\nFROM scratch AS good\n')).toEqual([
      { rule: 'StageNameCasing', line: 1, message: "Stage name 'BadStageName' should be lowercase" },
    ]);
  });

  it("warns when 'as' is not cased like 'FROM'", async () => {
    const text = 'FROM scratch as base2\nFROM scratch AS base3\n';
    expect(await findingsOf('FromAsCasing', text)).toEqual([
      { rule: 'FromAsCasing', line: 1, message: "'as' and 'FROM' keywords' casing do not match" },
    ]);
    expect(await findingsOf('FromAsCasing', 'from scratch AS base\nfrom scratch as base2\n')).toEqual([
      { rule: 'FromAsCasing', line: 1, message: "'AS' and 'from' keywords' casing do not match" },
    ]);
  });

  it('leaves a mixed-case FROM to ConsistentInstructionCasing', async () => {
    expect(await findingsOf('FromAsCasing', 'From scratch as base\nFROM scratch AS b\n')).toEqual([]);
  });
});

describe('ConsistentInstructionCasing', () => {
  it('flags keywords that differ from the majority casing', async () => {
    expect(await findingsOf('ConsistentInstructionCasing', 'FROM scratch\ncopy a /foo\nCOPY b /bar\n')).toEqual([
      { rule: 'ConsistentInstructionCasing', line: 2, message: "Command 'copy' should match the case of the command majority (uppercase)" },
    ]);
    expect(await findingsOf('ConsistentInstructionCasing', 'FROM scratch\ncopy a /foo\ncopy a /bar\ncopy a /baz\n')).toEqual([
      { rule: 'ConsistentInstructionCasing', line: 1, message: "Command 'FROM' should match the case of the command majority (lowercase)" },
    ]);
  });

  it('flags mixed-case keywords whatever the majority', async () => {
    expect(await findingsOf('ConsistentInstructionCasing', 'FROM scratch\nRun true\n')).toEqual([
      { rule: 'ConsistentInstructionCasing', line: 2, message: "Command 'Run' should match the case of the command majority (uppercase)" },
    ]);
  });

  it('does not count or check ARGs before the first FROM (BuildKit ignores them too)', async () => {
    expect(await findingsOf('ConsistentInstructionCasing', 'arg V=1\nFROM scratch\nCOPY a /a\n')).toEqual([]);
  });

  it('is quiet when all keywords agree', async () => {
    expect(await findingsOf('ConsistentInstructionCasing', 'from scratch\ncopy a /foo\n')).toEqual([]);
  });
});

describe('DuplicateStageName and ReservedStageName', () => {
  it('reports the second use of a stage name (ignoring case); the parser then refuses the file', async () => {
    const r = await report('FROM scratch AS b\nFROM scratch AS B\n');
    expect(r.warnings.map((w) => [w.rule, w.line, w.message])).toEqual([
      ['DuplicateStageName', 2, 'Duplicate stage name "b", stage names should be unique'],
    ]);
    expect(r.error?.message).toBe('Containerfile:2:1: duplicate stage name "b" (first used on line 1)');
  });

  it('reports stage names BuildKit reserves', async () => {
    expect(await findingsOf('ReservedStageName', 'FROM scratch AS scratch\nFROM scratch AS context\nFROM scratch AS a\n')).toEqual([
      { rule: 'ReservedStageName', line: 1, message: 'Stage name should not use the same name as reserved stage "scratch"' },
      { rule: 'ReservedStageName', line: 2, message: 'Stage name should not use the same name as reserved stage "context"' },
    ]);
  });
});

describe('MaintainerDeprecated', () => {
  it('warns about MAINTAINER in any stage', async () => {
    expect(await findingsOf('MaintainerDeprecated', 'FROM scratch AS a\nMAINTAINER me@example.org\nFROM scratch\n')).toEqual([
      { rule: 'MaintainerDeprecated', line: 2, message: 'Maintainer instruction is deprecated in favor of using label' },
    ]);
    expect(await findingsOf('MaintainerDeprecated', 'FROM scratch\nLABEL org.opencontainers.image.authors="me@example.org"\n')).toEqual([]);
  });
});

describe('NoEmptyContinuation', () => {
  it('warns once per instruction, on its last line, about blank lines inside a continuation', async () => {
    const text = 'FROM scratch\n# comment\nCOPY a \\\n\n.\nCOPY b \\\n# comments are fine\n.\n';
    expect(await findingsOf('NoEmptyContinuation', text)).toEqual([{ rule: 'NoEmptyContinuation', line: 5, message: 'Empty continuation line' }]);
  });

  it('honours the escape directive', async () => {
    const text = '# escape=`\nFROM scratch\nCOPY a `\n   \n  /b\n';
    expect(await findingsOf('NoEmptyContinuation', text)).toEqual([{ rule: 'NoEmptyContinuation', line: 5, message: 'Empty continuation line' }]);
  });

  it('leaves blank lines of a heredoc body alone', async () => {
    const text = 'FROM scratch\nCOPY <<EOF /greeting\nhello\n\nworld\nEOF\nRUN <<EOT\necho a\n\necho b\nEOT\n';
    expect(await findings(text)).toEqual([]);
  });

  it('ignores blank lines between instructions', async () => {
    expect(await findingsOf('NoEmptyContinuation', 'FROM scratch\n\nCOPY a /b\n\n')).toEqual([]);
  });
});

describe('LegacyKeyValueFormat', () => {
  it('warns about ENV and LABEL in the "key value" form, with the keyword as written', async () => {
    expect(await findingsOf('LegacyKeyValueFormat', 'FROM scratch\nENV A b c\nlabel x y\nENV B=1\nLABEL "k"=v\n')).toEqual([
      { rule: 'LegacyKeyValueFormat', line: 2, message: '"ENV key=value" should be used instead of legacy "ENV key value" format' },
      { rule: 'LegacyKeyValueFormat', line: 3, message: '"label key=value" should be used instead of legacy "label key value" format' },
    ]);
  });
});

describe('a clean Containerfile', () => {
  it('gives no warnings', async () => {
    const text = 'ARG BASE=scratch\nFROM ${BASE} AS build\nWORKDIR /src\nCOPY . .\nFROM scratch\nCOPY --from=build /src /app\nENTRYPOINT ["/app/run"]\n';
    expect(await findings(text)).toEqual([]);
  });
});

describe('InvalidDefinitionDescription (experimental)', () => {
  it('wants the comment right above a named stage or an ARG to start with its name', async () => {
    const text = [
      '# check=experimental=InvalidDefinitionDescription',
      '# the version to build',
      'ARG VERSION=1',
      '# BASE the image to start from',
      'ARG BASE=scratch',
      '# compiles the thing',
      'FROM scratch AS build',
      '# not a description',
      '',
      'FROM scratch AS other',
      '# a b',
      'ARG A B',
      '',
    ].join('\n');
    expect(await findingsOf('InvalidDefinitionDescription', text)).toEqual([
      { rule: 'InvalidDefinitionDescription', line: 3, message: 'Comment for ARG should follow the format: `# VERSION <description>`' },
      { rule: 'InvalidDefinitionDescription', line: 7, message: 'Comment for FROM should follow the format: `# build <description>`' },
      { rule: 'InvalidDefinitionDescription', line: 12, message: 'Comment for ARG should follow the format: `# <arg_key> <description>`' },
    ]);
  });

  it('is off unless asked for, and never reads the parser directives as a description', async () => {
    expect(await findingsOf('InvalidDefinitionDescription', '# some comment\nARG V=1\nFROM scratch\n')).toEqual([]);
    expect(await findingsOf('InvalidDefinitionDescription', '# check=experimental=all\nARG V=1\nFROM scratch\n')).toEqual([]);
  });
});
