import { describe, expect, it } from 'vitest';
import { byCodePoint } from '../src/code-point-order.js';

describe('byCodePoint', () => {
  it("sorts as Python's sorted(): by code point, capitals first, prefixes first", () => {
    expect(['sdb', 'a', 'Sda', 'sda', 'sd', 'é', 'Z'].sort(byCodePoint)).toEqual(['Sda', 'Z', 'a', 'sd', 'sda', 'sdb', 'é']);
  });

  it('puts a character above U+FFFF after U+E000–U+FFFF, as code points and not UTF-16 units order them', () => {
    // sorted(['\U0001F600', '\uFF5E']) in Python: ['～', '😀']; JavaScript's < says the opposite.
    expect(['\u{1F600}', '\uFF5E'].sort(byCodePoint)).toEqual(['\uFF5E', '\u{1F600}']);
    expect(['\u{1F601}', '\u{1F600}'].sort(byCodePoint)).toEqual(['\u{1F600}', '\u{1F601}']);
    expect(byCodePoint('x', 'x')).toBe(0);
  });
});
