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

/** Salt's palette: green fine, cyan changed, red failed, yellow pending or would change. */
const COLORS = { green: '\x1b[0;32m', cyan: '\x1b[0;36m', red: '\x1b[0;31m', yellow: '\x1b[1;33m' } as const;
export type Color = keyof typeof COLORS;

/** `text` in `color` when `on` (see useColor), else as it is. */
export const paint = (color: Color, text: string, on: boolean): string => (on ? `${COLORS[color]}${text}\x1b[0m` : text);
