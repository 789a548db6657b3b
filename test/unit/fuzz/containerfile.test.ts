// Property-based tests of the Containerfile parser, the planner and variable expansion: for any
// text, they return or throw a TsbuildError with a message; they never throw anything else. Inputs
// are drawn from the language's own pieces (instructions, flags, quotes, escapes, heredocs,
// variables, line continuations, directives) so they reach deep into the parser, and from raw
// strings.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expandHeredocBody, expandWord, expandWords, parseContainerfile, planBuild } from '../../../src/containerfile/index.js';
import { isTsbuildError } from '../../../src/errors.js';
import { RUNS, onlyTsbuildErrors } from './helpers.js';

const KEYWORDS = ['FROM', 'RUN', 'COPY', 'ADD', 'ENV', 'ARG', 'LABEL', 'WORKDIR', 'USER', 'CMD', 'ENTRYPOINT', 'EXPOSE', 'VOLUME', 'SHELL', 'STOPSIGNAL', 'HEALTHCHECK', 'ONBUILD', 'MAINTAINER', 'from', 'Run', 'BOGUS'];
const PIECES = [
  ' ', ' ', ' ', '\t', '\n', '\\\n', '\\', '`', '"', "'", '$', '${', '}', ':-', ':+', '-', '#', '=', ',', '[', ']', '[ "', '", "', '" ]',
  '--from=', '--chown=', '--chmod=', '--mount=type=', 'bind', 'cache', 'secret', 'ssh', 'tmpfs', ',target=', ',source=', ',id=', '--network=', '--security=',
  '--platform=', '--link', '--parents', '--exclude=', '--interval=', '--timeout=', '--retries=', 'NONE', 'AS', 'as', 'scratch', 'busybox', 'stage',
  '<<EOF', '<<-EOF', "<<'EOF'", '<<"E"OF', 'EOF', '<<', 'a', 'b', '/', '.', '..', '*', '?', 'x y', '0', '1', '777', 'u+x', '\u00e9', '\u{1F600}', '\r', '\u0000',
  '# syntax=docker/dockerfile:1', '# escape=`', '# escape=\\', '# check=skip=all', '# check=error=true', 'VAR', 'HOME', 'TARGETARCH', 'BUILDPLATFORM',
];

const piece = fc.constantFrom(...PIECES);
const line = fc.tuple(fc.constantFrom(...KEYWORDS), fc.array(piece, { maxLength: 12 })).map(([k, ps]) => `${k} ${ps.join('')}`);
// Well-formed instructions with fuzzed words: these get past the parser into the planner.
const VALID_LINES = ['RUN echo ', 'COPY a ', 'ADD a ', 'ENV K=', 'ARG A=', 'LABEL l=', 'WORKDIR /', 'USER ', 'CMD echo ', 'ENTRYPOINT ["sh", "', 'EXPOSE 8', 'VOLUME /v', 'STOPSIGNAL SIG', 'FROM base AS s', 'FROM s'];
const safePiece = fc.constantFrom('a', 'b', '1', '$VAR', '${VAR}', '${VAR:-x}', '${NOPE:+y}', '"q"', "'s'", '\\ ', '-', '_', '.', '/x');
const validLine = fc.tuple(fc.constantFrom(...VALID_LINES), fc.array(safePiece, { maxLength: 5 })).map(([k, ps]) => `${k}${ps.join('')}`);
const containerfile = fc.oneof(
  { weight: 3, arbitrary: fc.array(fc.oneof({ weight: 4, arbitrary: validLine }, { weight: 1, arbitrary: line }), { minLength: 1, maxLength: 10 }).map((ls) => `FROM busybox AS base\n${ls.join('\n')}\n`) },
  { weight: 4, arbitrary: fc.array(line, { minLength: 1, maxLength: 10 }).map((ls) => `FROM busybox AS base\n${ls.join('\n')}\n`) },
  { weight: 2, arbitrary: fc.array(fc.oneof(line, fc.array(piece, { maxLength: 15 }).map((ps) => ps.join(''))), { maxLength: 10 }).map((ls) => ls.join('\n')) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200, unit: 'binary' }) },
);

const vars = (name: string): string | undefined => ({ VAR: 'value with spaces', EMPTY: '', HOME: '/root', Q: '"quoted"' })[name];
const loc = { file: 'Containerfile', line: 1, column: 1 };

describe('Containerfile parser and planner (fast-check)', () => {
  it(`parse and plan never throw anything but a TsbuildError naming the file (${RUNS} inputs)`, () => {
    const outcomes = { planned: 0, rejected: 0 };
    fc.assert(
      fc.property(containerfile, (text) => {
        try {
          planBuild(parseContainerfile(text, 'Containerfile'), { buildArgs: new Map([['VAR', 'x']]) });
          outcomes.planned++;
        } catch (err) {
          if (!isTsbuildError(err)) throw err;
          expect(err.message).toContain('Containerfile');
          outcomes.rejected++;
        }
      }),
      { numRuns: RUNS },
    );
    // The inputs reach both ends: many plan, many are refused (a generator that only made garbage
    // would test nothing past the first error).
    expect(outcomes.planned).toBeGreaterThan(RUNS / 20);
    expect(outcomes.rejected).toBeGreaterThan(RUNS / 20);
  });
});

describe('variable expansion (fast-check)', () => {
  const word = fc.oneof(
    fc.array(fc.constantFrom('$', '${', '}', 'VAR', 'EMPTY', 'HOME', 'Q', ':-', ':+', '-', '+', '?', ':?', '#', '%', '/', '"', "'", '\\', '`', ' ', 'x', '\t', '$$', '${VAR', '}}'), { maxLength: 20 }).map((p) => p.join('')),
    fc.string({ maxLength: 60 }),
  );
  it(`expandWord, expandWords and expandHeredocBody return strings or throw a TsbuildError (${RUNS} inputs each)`, () => {
    fc.assert(
      fc.property(word, fc.constantFrom('\\', '`'), (text, escapeChar) => {
        const one = onlyTsbuildErrors(() => expandWord(text, vars, { escapeChar, loc }));
        if (one !== undefined) expect(typeof one).toBe('string');
        const many = onlyTsbuildErrors(() => expandWords(text, vars, { escapeChar, loc }));
        if (many !== undefined) expect(many.every((w) => typeof w === 'string')).toBe(true);
        const body = onlyTsbuildErrors(() => expandHeredocBody(text, vars, loc));
        if (body !== undefined) expect(typeof body).toBe('string');
      }),
      { numRuns: RUNS },
    );
  });

  it('expands a plain word to itself: no $, quote or escape means no change', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_./:@-]{0,30}$/), (text) => {
        expect(expandWord(text, vars, { escapeChar: '\\', loc })).toBe(text);
      }),
      { numRuns: RUNS },
    );
  });
});
