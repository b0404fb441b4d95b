import { BadRequest, operatorProblem, parseRequestObject, type Operator } from '@brine/common';
import type { Json } from '@brine/protocol';

/*
 * The minion daemon's control socket speaks newline-delimited JSON, like the
 * master's: the client writes one request line, the daemon answers with event
 * lines and closes the connection.
 */

/** Requests are small: SLS names and a few flags. */
export const MAX_REQUEST_BYTES = 16 * 1024;

/** The longest a request may wait in line behind other state runs, in seconds. */
export const MAX_WAIT = 86_400;

/** `minion apply` through the daemon: state.apply with these SLS (none: the highstate). */
export interface ApplyRequest {
  cmd: 'apply';
  mods: string[];
  test: boolean;
  /** Seconds to wait for state runs ahead of it; 0 refuses at once when one is running. */
  wait: number;
}

/** A request as it travels: the client adds who is asking, for the daemon's log. */
export type WireRequest = ApplyRequest & { operator: Operator };

export type ControlEvent =
  /** Another job holds the runner: the request waits in line. */
  | { type: 'waiting'; running?: { jid: string; fun: string }; queued: number; wait: number }
  /** The master recorded the job and it runs now. */
  | { type: 'started'; jid: string }
  /** The job's return as the master gets it (secrets redacted by the state engine). */
  | { type: 'done'; jid: string; success: boolean; ret: Json }
  | { type: 'error'; code: string; message: string };

/** Events after which the daemon closes the connection: the answer is complete. */
export const FINAL: ReadonlySet<ControlEvent['type']> = new Set(['done']);

/** Checks a request line's shape (SLS names are checked by the state engine's rules later); throws BadRequest. */
export function parseRequest(line: string): WireRequest {
  const r = parseRequestObject(line);
  const need = (ok: boolean, what: string) => {
    if (!ok) throw new BadRequest(what);
  };
  const who = operatorProblem(r['operator']);
  if (who) throw new BadRequest(who);
  need(r['cmd'] === 'apply', `unknown command ${JSON.stringify(r['cmd'])}`);
  const mods = r['mods'];
  need(
    Array.isArray(mods) && mods.length <= 100 && mods.every((s) => typeof s === 'string'),
    "'mods' must be a list of at most 100 SLS names",
  );
  need(typeof r['test'] === 'boolean', "'test' must be true or false");
  const wait = r['wait'];
  need(typeof wait === 'number' && Number.isFinite(wait) && wait >= 0 && wait <= MAX_WAIT, `'wait' must be 0..${MAX_WAIT} seconds`);
  const extra = Object.keys(r).filter((k) => !['cmd', 'mods', 'test', 'wait', 'operator'].includes(k));
  need(extra.length === 0, `unknown fields: ${extra.join(', ')}`);
  return r as unknown as WireRequest;
}
