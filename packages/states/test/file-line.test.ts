import { describe, expect, it } from 'vitest';
import { editLines, type LineEdit } from '../src/modules/file-edit.js';

/** Applies the edit twice: the second time must change nothing. */
function twice(text: string, e: Partial<LineEdit>): string {
  const edit = { mode: 'ensure', indent: true, ...e } as LineEdit;
  const once = editLines(text, edit);
  expect(editLines(once, edit), 'a second run changes nothing').toBe(once);
  return once;
}

describe("file.line's editing (Salt's _set_line)", () => {
  it("deletes every line equal to the first one match finds (Salt's docstring example)", () => {
    const text = '[some_config]\n# Some config file\n# this line will go away\n\nhere=False\naway=True\ngoodybe=away\n';
    expect(editLines(text, { mode: 'delete', match: 'away', indent: true })).toBe(
      '[some_config]\n# Some config file\n\nhere=False\naway=True\ngoodybe=away\n',
    );
  });

  it('replaces the first line match finds, and match defaults to content', () => {
    expect(editLines('a\nhere\nb\n', { mode: 'replace', match: 'here', content: 'there', indent: true })).toBe('a\nthere\nb\n');
    expect(twice('x = 1\n', { mode: 'replace', content: 'x = 1' })).toBe('x = 1\n');
  });

  it('ensures a line between before and after: inserts into none, replaces one, refuses more', () => {
    expect(twice('insert after me\ninsert before me\n', { after: 'insert after me', before: 'insert before me', content: 'thrice' })).toBe(
      'insert after me\nthrice\ninsert before me\n',
    );
    expect(twice('a\nold\nb\n', { after: '^a$', before: '^b$', content: 'new' })).toBe('a\nnew\nb\n');
    expect(() => editLines('a\n1\n2\nb\n', { mode: 'ensure', after: '^a$', before: '^b$', content: 'new', indent: true })).toThrow(
      'Found more than one line between boundaries "before" and "after".',
    );
  });

  it('ensures a line before or after one, indented as its neighbour unless indent is False', () => {
    expect(twice('[s]\n    key=1\n', { after: 'key=1', content: 'other=2' })).toBe('[s]\n    key=1\n    other=2\n');
    expect(twice('[s]\n    key=1\n', { after: 'key=1', content: 'other=2', indent: false })).toBe('[s]\n    key=1\nother=2\n');
    expect(twice('a\nb\n', { before: '^b$', content: 'x' })).toBe('a\nx\nb\n');
    expect(() => editLines('a\n', { mode: 'ensure', content: 'x', indent: true })).toThrow(/Wrong conditions\?/);
  });

  it('inserts at the start or end, keeping line endings, and not twice', () => {
    expect(twice('a\r\nb\r\n', { mode: 'insert', location: 'start', content: 'first' })).toBe('first\r\na\r\nb\r\n');
    expect(twice('a\nb\n', { mode: 'insert', location: 'end', content: 'last' })).toBe('a\nb\nlast\n');
    expect(twice('a\nb', { mode: 'insert', location: 'end', content: 'last' })).toBe('a\nb\nlast');
    expect(twice('', { mode: 'insert', location: 'end', content: 'only' })).toBe('only\n');
    expect(() => editLines('a\n', { mode: 'insert', content: 'x', indent: true })).toThrow(
      'On insert either "location" or "before/after" conditions are required.',
    );
  });

  it('finds lines by regular expression or by plain text, and reports a bad pattern', () => {
    expect(twice('f(x) = 1\n', { after: 'f(x)', content: 'g' })).toBe('f(x) = 1\ng\n');
    expect(() => editLines('a\n', { mode: 'ensure', after: 'a(', content: 'x', indent: true })).toThrow(/: 'a\('$/);
  });
});
