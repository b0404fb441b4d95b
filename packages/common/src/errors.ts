/** Where in an input file a problem sits; line and column are 1-based. */
export interface SourcePos {
  file: string;
  line?: number;
  column?: number;
}

export function formatPos(pos: SourcePos): string {
  if (pos.line === undefined) return pos.file;
  return pos.column === undefined ? `${pos.file}:${pos.line}` : `${pos.file}:${pos.line}:${pos.column}`;
}

/**
 * Base of every error Brine reports to an operator. `code` is stable and
 * machine-readable; the message says what is wrong and what to do about it.
 */
export class BrineError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Bad operator input: a config, pillar or state file that cannot be used as written. */
export class InputError extends BrineError {
  readonly pos: SourcePos;
  /** The message without the position, for callers that name the place themselves. */
  readonly detail: string;
  constructor(code: string, pos: SourcePos, detail: string, options?: { cause?: unknown }) {
    super(code, `${formatPos(pos)}: ${detail}`, options);
    this.pos = pos;
    this.detail = detail;
  }
}
