/**
 * Orders strings by UTF-16 code unit, as JavaScript's `<` does: Python's `sorted()` order
 * for the ASCII names it is used on, the order Salt shows. Not `localeCompare`: its first
 * call builds an ICU collator (~8 ms), on the minion's start path (grains) and every CLI's.
 */
export function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
