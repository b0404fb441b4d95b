import { paint, type Color } from '@brine/common';
import type { StartupStatus } from '../jobs/startup-status.js';
import type { MinionStatus } from '../minion-status.js';

/** A failing state's comment in the table: its first line, this long at most. */
const COMMENT_WIDTH = 80;

/**
 * A minion that is fine: connected, its startup states succeeded (or it has none)
 * and, in a cluster, every master compiles the same pillar for it. Anything else makes `master status` exit 1.
 */
export const isHealthy = (s: MinionStatus): boolean =>
  s.connected && (s.startup.result === 'ok' || s.startup.result === 'none') && s.pillar_diverged === undefined;

/** The PILLAR column of a cluster: `same`, or `diverged` with each master's hash. */
const describePillar = (s: MinionStatus): string =>
  s.pillar_diverged
    ? `diverged ${Object.entries(s.pillar_diverged)
        .map(([m, h]) => `${m}=${h}`)
        .join(',')}`
    : 'same';

/** ISO to the second: the table's times. */
const seconds = (iso: string | null): string => (iso === null ? '-' : iso.replace(/\.\d+Z$/, 'Z'));

const STARTUP_COLOR: Record<StartupStatus['result'], Color | undefined> = {
  ok: 'green',
  failed: 'red',
  retrying: 'red',
  running: 'yellow',
  none: undefined,
};

/** The STARTUP column: `ok <time>`, `failed <time>: <state>: <comment>`, `retrying since <time> (N failed runs): ...`, `running since <time>`, `none`. */
export function describeStartup(s: StartupStatus): string {
  const failure = () => {
    const state = s.failed_state!;
    const line = state.comment.split('\n', 1)[0]!;
    const comment = line.length > COMMENT_WIDTH ? `${line.slice(0, COMMENT_WIDTH - 1)}…` : line;
    return state.id === null ? comment : `${state.id}: ${comment}`;
  };
  switch (s.result) {
    case 'ok':
      return `ok ${seconds(s.since)}`;
    case 'failed':
      return `failed ${seconds(s.since)}: ${failure()}`;
    case 'retrying':
      return `retrying since ${seconds(s.since)} (${s.failures} failed run${s.failures === 1 ? '' : 's'}): ${failure()}`;
    case 'running':
      return `running since ${seconds(s.since)}`;
    case 'none':
      return 'none';
  }
}

/**
 * `master status` as a table: a header, then one line per minion; colours only
 * when `color`. A cluster master's (its minions carry `master`) adds MASTER and PILLAR.
 */
export function formatStatusTable(minions: readonly MinionStatus[], color: boolean): string {
  const cluster = minions.some((m) => m.master !== undefined);
  const rows = minions.map((m) => ({
    cells: [
      m.id,
      m.connected ? 'connected' : 'disconnected',
      seconds(m.last_seen),
      m.address ?? '-',
      ...(cluster ? [m.master ?? '-', describePillar(m)] : []),
    ],
    colors: [undefined, m.connected ? 'green' : 'red', undefined, undefined, undefined, m.pillar_diverged ? 'red' : undefined] as (
      | Color
      | undefined
    )[],
    startup: describeStartup(m.startup),
    startupColor: STARTUP_COLOR[m.startup.result],
  }));
  const header = ['MINION', 'CONNECTION', 'LAST SEEN', 'ADDRESS', ...(cluster ? ['MASTER', 'PILLAR'] : [])];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r.cells[i]!.length)));
  // Padded before painting: escape codes must not count as width.
  const line = (cells: string[], colors: (Color | undefined)[], last: string, lastColor: Color | undefined) =>
    [
      ...cells.map((c, i) => (colors[i] ? paint(colors[i], c.padEnd(widths[i]!), color) : c.padEnd(widths[i]!))),
      lastColor ? paint(lastColor, last, color) : last,
    ].join('  ');
  return [line(header, [], 'STARTUP', undefined), ...rows.map((r) => line(r.cells, r.colors, r.startup, r.startupColor))]
    .map((l) => `${l}\n`)
    .join('');
}
