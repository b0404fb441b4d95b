/* What every way of `minion apply` shares: its flags, exit statuses and refusals. */

/**
 * Exit codes of `minion apply`, as salt-call's (Salt's "Return Codes" doc): every state succeeded
 * (or would); a state failed, or the states did not render or compile; bad usage or config.
 */
export const APPLY_EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** How long `minion apply` waits, by default, for state runs ahead of it on the daemon. */
export const DEFAULT_WAIT = 600;

export interface ApplyFlags {
  local?: boolean;
  config?: string;
  test?: boolean;
  json?: boolean;
  fileRoot?: string[];
  pillarRoot?: string[];
  wait?: string;
  logLevel: string;
}

/** 'highstate', or the SLS names of `a,b`. */
export type ApplyTarget = 'highstate' | string[];

/** Says why `minion apply` cannot run, on stderr, and gives the exit status. */
export function applyRefused(message: string, status: number = APPLY_EXIT.usage): number {
  process.stderr.write(`minion apply: ${message}\n`);
  return status;
}
