import { describe, expect, it } from 'vitest';
import { expandPyReplacement, pyFlags, PyRegexError, pySubn, pythonRegExp } from '../src/py-regex.js';

const sub = (pattern: string, repl: string, text: string, flags = 'm', count = 0) =>
  pySubn(pythonRegExp(pattern, flags), text, repl, count);

describe('Python patterns in JavaScript', () => {
  it('translates named groups, \\A, \\Z, {,n}, a leading ] in a class and leading inline flags', () => {
    expect(sub('(?P<k>\\w+)=(?P=k)', '\\g<k>', 'a=a b=c').text).toBe('a b=c');
    expect(sub('\\Aab', 'X', 'abab').text).toBe('Xab');
    expect(sub('ab\\Z', 'X', 'abab').text).toBe('abX');
    expect(sub('a{,2}', 'X', 'aaa', 'm', 1).text).toBe('Xa');
    expect(sub('[]x]+', '-', 'a]x]b').text).toBe('a-b');
    expect(sub('(?i)abc', 'x', 'ABC').text).toBe('x');
    expect(sub('a(?#a comment)b', 'x', 'ab').text).toBe('x');
  });

  it("gives ^, $ and . Python's meaning: lines end at \\n only, $ also before a final newline", () => {
    expect(sub('^b$', 'X', 'a\nb\nc', 'm').text).toBe('a\nX\nc');
    expect(sub('^b$', 'X', 'a\nb\nc', '').text).toBe('a\nb\nc');
    expect(sub('c$', 'X', 'a\nc\n', '').text).toBe('a\nX\n');
    expect(sub('a.b', 'X', 'a\rb a\nb', '').text).toBe('X a\nb');
    expect(sub('a.b', 'X', 'a\nb', 's').text).toBe('X');
    expect(sub('x$', 'Y', 'x\r\nx', 'm').text).toBe('x\r\nY');
  });

  it("expands Python's replacement syntax and counts like re.subn", () => {
    expect(sub('(a)(b)?', '[\\1|\\2|\\g<0>]\\n\\\\', 'a')).toEqual({ text: '[a||a]\n\\', n: 1 });
    expect(sub('a', 'b', 'aaaa', 'm', 2)).toEqual({ text: 'bbaa', n: 2 });
    expect(sub('x', 'y', 'aaa')).toEqual({ text: 'aaa', n: 0 });
    expect(sub('a', '$1 $&', 'a').text).toBe('$1 $&');
    expect(() => sub('a', '\\2', 'a')).toThrow('invalid group reference 2');
    expect(() => sub('a', '\\q', 'a')).toThrow('bad escape \\q');
    expect(expandPyReplacement('\\.', ['x'], undefined)).toBe('\\.');
  });

  it('refuses what does not translate, naming it', () => {
    expect(() => pythonRegExp('(?x) a b', '')).toThrow(/VERBOSE is not supported/);
    expect(() => pythonRegExp('a(?i:b)', '')).toThrow(/inline flags are supported only at the start/);
    expect(() => pythonRegExp('(a)?(?(1)b|c)', '')).toThrow(/conditional groups/);
    expect(() => pythonRegExp('a(b', '')).toThrow(PyRegexError);
  });

  it("reads Salt's flags: an int, a name or a list of names", () => {
    expect(pyFlags(8)).toBe('m');
    expect(pyFlags(2 | 8 | 16)).toBe('ims');
    expect(pyFlags(['IGNORECASE', 'M'])).toBe('im');
    expect(pyFlags('DOTALL')).toBe('s');
    expect(pyFlags(32)).toBe('');
    expect(() => pyFlags(['VERBOSE'])).toThrow(/VERBOSE is not supported/);
    expect(() => pyFlags(['NOPE'])).toThrow('Invalid re flag given: NOPE');
    expect(() => pyFlags(4096)).toThrow('invalid re flags: 4096');
  });
});
