let last = '';

/**
 * Salt's job id: the UTC time as YYYYMMDDhhmmssffffff (microseconds). JavaScript
 * clocks give milliseconds, so the last three digits start at zero and count up
 * when two jobs start in the same millisecond: ids from one master never repeat
 * and sort by start time.
 */
export function newJid(now: Date = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  let jid = `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}${p(now.getUTCMilliseconds(), 3)}000`;
  if (jid <= last) jid = (BigInt(last) + 1n).toString();
  last = jid;
  return jid;
}

export const isJid = (value: string): boolean => /^\d{20}$/.test(value);

/** When a job started, read back from its id. */
export function jidTime(jid: string): number {
  const n = (from: number, len: number) => Number(jid.slice(from, from + len));
  return Date.UTC(n(0, 4), n(4, 2) - 1, n(6, 2), n(8, 2), n(10, 2), n(12, 2), n(14, 3));
}
