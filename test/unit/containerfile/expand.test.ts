import { describe, expect, it } from 'vitest';
import { expandHeredocBody, expandWord, expandWords, type SourceLocation } from '../../../src/containerfile/index.js';

const loc: SourceLocation = { file: 'Containerfile', line: 7, column: 1 };
const env: Record<string, string> = { v: 'value', empty: '', path: '/usr/local/bin/tool.tar.gz', spaced: 'a b  c', x: 'x', star: 'a*b*c' };
const vars = (name: string): string | undefined => (Object.hasOwn(env, name) ? env[name] : undefined);
const word = (text: string, escapeChar = '\\'): string => expandWord(text, vars, { escapeChar, loc });
const words = (text: string): string[] => expandWords(text, vars, { escapeChar: '\\', loc });

describe('expandWord: plain references', () => {
  it('expands $v and ${v} inside surrounding text', () => {
    expect(word('$v')).toBe('value');
    expect(word('${v}')).toBe('value');
    expect(word('pre-${v}-post/$v.txt')).toBe('pre-value-post/value.txt');
  });

  it('expands an unset variable to empty', () => {
    expect(word('a${nope}b$nope')).toBe('ab');
  });

  it('keeps a $ that does not start a name', () => {
    expect(word('cost: 5$ or $')).toBe('cost: 5$ or $');
    expect(word('$/x')).toBe('$/x');
  });

  it('reads names of letters, digits and underscores only', () => {
    expect(word('$v-suffix')).toBe('value-suffix');
    expect(word('$v_suffix')).toBe('');
  });

  it('never splits a word on blanks from a value', () => {
    expect(word('$spaced')).toBe('a b  c');
  });
});

describe('expandWord: modifiers', () => {
  it('uses the default with :- when unset or empty, with - only when unset', () => {
    expect(word('${nope:-def}')).toBe('def');
    expect(word('${empty:-def}')).toBe('def');
    expect(word('${v:-def}')).toBe('value');
    expect(word('${nope-def}')).toBe('def');
    expect(word('${empty-def}')).toBe('');
  });

  it('uses the alternative with :+ when set and non-empty, with + when set', () => {
    expect(word('${v:+alt}')).toBe('alt');
    expect(word('${empty:+alt}')).toBe('');
    expect(word('${nope:+alt}')).toBe('');
    expect(word('${empty+alt}')).toBe('alt');
    expect(word('${nope+alt}')).toBe('');
  });

  it('expands variables and quotes inside a default', () => {
    expect(word('${nope:-$v/${x}}')).toBe('value/x');
    expect(word('${nope:-"a b"}')).toBe('a b');
  });

  it('fails with :? when unset or empty and with ? when unset, naming the file and line', () => {
    expect(() => word('${nope:?must be set}')).toThrow('Containerfile:7:1: nope: must be set');
    expect(() => word('${empty:?}')).toThrow('Containerfile:7:1: empty: is not allowed to be empty');
    expect(() => word('${nope?}')).toThrow('Containerfile:7:1: nope: is not allowed to be unset');
    expect(word('${empty?oops}')).toBe('');
    expect(word('${v:?oops}')).toBe('value');
    expect(() => word('${nope?}')).toThrow(expect.objectContaining({ code: 'PARSE' }));
  });

  it('removes the shortest and longest prefix with # and ##', () => {
    expect(word('${path#*/}')).toBe('usr/local/bin/tool.tar.gz');
    expect(word('${path##*/}')).toBe('tool.tar.gz');
    expect(word('${path#/usr}')).toBe('/local/bin/tool.tar.gz');
    expect(word('${path#nomatch}')).toBe('/usr/local/bin/tool.tar.gz');
  });

  it('removes the shortest and longest suffix with % and %%', () => {
    expect(word('${path%.*}')).toBe('/usr/local/bin/tool.tar');
    expect(word('${path%%.*}')).toBe('/usr/local/bin/tool');
    expect(word('${path%/*}')).toBe('/usr/local/bin');
    expect(word('${path%t?r.gz}')).toBe('/usr/local/bin/tool.');
  });

  it('replaces the first or every match with / and //', () => {
    expect(word('${path/\\//:}')).toBe(':usr/local/bin/tool.tar.gz');
    expect(word('${path//\\//:}')).toBe(':usr:local:bin:tool.tar.gz');
    expect(word('${v/a*u/A}')).toBe('vAe');
    expect(word('${v//?/-}')).toBe('-----');
    expect(word('${nope/a/b}')).toBe('');
  });

  it('treats an escaped glob character in a pattern literally', () => {
    expect(word('${star#*\\*}')).toBe('b*c');
    expect(word('${star//\\*/+}')).toBe('a+b+c');
  });

  it('rejects bad substitutions', () => {
    expect(() => word('${v')).toThrow("Containerfile:7:1: syntax error: missing '}'");
    expect(() => word('${v:-abc')).toThrow("Containerfile:7:1: syntax error: missing '}'");
    expect(() => word('${}')).toThrow('Containerfile:7:1: syntax error: bad substitution');
    expect(() => word('${v:x}')).toThrow('Containerfile:7:1: unsupported modifier (:x) in substitution');
    expect(() => word('${v^x}')).toThrow('Containerfile:7:1: unsupported modifier (^) in substitution');
    expect(() => word('${v/a}')).toThrow("Containerfile:7:1: syntax error: missing '/' in ${}");
  });
});

describe('expandWord: quotes and escapes', () => {
  it('removes double quotes and expands inside them', () => {
    expect(word('"$v and ${x}"')).toBe('value and x');
  });

  it('removes single quotes and expands nothing inside them', () => {
    expect(word("'$v \\n'")).toBe('$v \\n');
  });

  it('treats an escaped $ as a literal dollar', () => {
    expect(word('\\$v')).toBe('$v');
    expect(word('\\${v}')).toBe('${v}');
    expect(word('"\\$v"')).toBe('$v');
  });

  it('drops the escape before any character outside quotes, and keeps it inside double quotes unless before " $ or itself', () => {
    expect(word('a\\ b\\"c')).toBe('a b"c');
    expect(word('"a\\nb \\"q\\" \\\\"')).toBe('a\\nb "q" \\');
    expect(word("it\\'s")).toBe("it's");
  });

  it('uses the configured escape character', () => {
    expect(word('`$v C:\\dir', '`')).toBe('$v C:\\dir');
    expect(word('"`"x`""', '`')).toBe('"x"');
  });

  it('joins quoted and unquoted parts into one word', () => {
    expect(word('a"b c"\'d\'$x')).toBe('ab cdx');
  });

  it('rejects unterminated quotes', () => {
    expect(() => word('"abc')).toThrow('Containerfile:7:1: unexpected end of statement while looking for matching double-quote');
    expect(() => word("'abc")).toThrow('Containerfile:7:1: unexpected end of statement while looking for matching single-quote');
  });
});

describe('expandWords', () => {
  it('splits on unquoted blanks, including blanks from values', () => {
    expect(words('80/tcp  $spaced')).toEqual(['80/tcp', 'a', 'b', 'c']);
  });

  it('keeps quoted and escaped blanks inside a word', () => {
    expect(words('"a b" c\\ d \'e  f\' "$spaced"')).toEqual(['a b', 'c d', 'e  f', 'a b  c']);
  });

  it('yields no word for unset variables or empty quotes', () => {
    expect(words('$nope ""')).toEqual([]);
    expect(words('x ${nope:-y z}')).toEqual(['x', 'y', 'z']);
  });
});

describe('expandWord: BuildKit lexer details', () => {
  it('accepts : before # and % as the plain forms', () => {
    expect(word('${path:#*/}')).toBe('usr/local/bin/tool.tar.gz');
    expect(word('${path:%%.*}')).toBe('/usr/local/bin/tool');
  });

  it('keeps escapes in a / replacement as written', () => {
    expect(word('${v/a/\\$}')).toBe('v\\$lue');
  });

  it('only allows escaping * ? } / and the escape itself in a pattern', () => {
    expect(word('${path/\\//x}')).toBe('xusr/local/bin/tool.tar.gz');
    expect(() => word('${v#\\a}')).toThrow("Containerfile:7:1: invalid pattern (\\a) in substitution: invalid escape '\\a'");
  });

  it('never matches a newline with * or ?, as Go regular expressions do', () => {
    const multi = (name: string): string | undefined => (name === 'm' ? 'a\nb' : undefined);
    expect(expandWord('${m#*b}', multi, { escapeChar: '\\', loc })).toBe('a\nb');
    expect(expandWord('${m/a?b/x}', multi, { escapeChar: '\\', loc })).toBe('a\nb');
  });

  it('names the position of the instruction in an error', () => {
    expect(() => expandWord('${nope:?}', vars, { escapeChar: '\\', loc: { file: 'F', line: 3, column: 9 } })).toThrow(
      expect.objectContaining({ message: 'F:3:9: nope: is not allowed to be unset', source: { file: 'F', line: 3, column: 9 } }),
    );
  });
});

describe('expandHeredocBody (COPY <<EOF with an unquoted delimiter)', () => {
  it('expands variables but keeps quotes as ordinary characters', () => {
    expect(expandHeredocBody('"$v" \'$x\' ${nope:-d}\n', vars, loc)).toBe('"value" \'x\' d\n');
  });

  it('removes a backslash and keeps the character after it, as BuildKit does', () => {
    expect(expandHeredocBody('\\$v a\\\\b c\\nd\n', vars, loc)).toBe('$v a\\b cnd\n');
  });
});
