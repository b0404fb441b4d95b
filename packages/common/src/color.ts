/** `--no-color` was given: no colours for the rest of this process. */
let switchedOff = false;

export function disableColor(): void {
  switchedOff = true;
}

/**
 * Whether to colour what goes to `stream`: only on a terminal, and never when
 * NO_COLOR is set to anything non-empty (no-color.org) or `--no-color` was given.
 */
export function useColor(stream: { isTTY?: boolean }): boolean {
  return !switchedOff && !process.env['NO_COLOR'] && stream.isTTY === true;
}
