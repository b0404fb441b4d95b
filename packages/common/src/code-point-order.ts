/**
 * Orders strings by Unicode code point, as Python's `sorted()` does: the order Salt shows.
 * JavaScript's `<` compares UTF-16 code units, which puts a character above U+FFFF (a
 * surrogate pair) before U+E000–U+FFFF; this does not. Not `localeCompare` either: its first
 * call builds an ICU collator (~8 ms), on the minion's start path (grains) and every CLI's.
 */
export function byCodePoint(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // A surrogate encodes a code point above U+FFFF, above every unit that is not one.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    return xs === ys ? x - y : xs ? 1 : -1;
  }
  return a.length - b.length;
}
