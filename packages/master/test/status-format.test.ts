import { describe, expect, it } from 'vitest';
import type { MinionStatus } from '../src/minion-status.js';
import { formatStatusTable, isHealthy } from '../src/cli/status-format.js';

const none = { result: 'none', jid: null, since: null, failures: 0, failed_state: null } as const;
const minions: MinionStatus[] = [
  {
    id: 'db1',
    connected: true,
    last_seen: '2026-11-24T15:00:01.123Z',
    address: '10.0.0.5',
    startup: { ...none, result: 'ok', jid: '1', since: '2026-11-24T15:00:00.456Z' },
  },
  {
    id: 'web10',
    connected: false,
    last_seen: null,
    address: null,
    startup: {
      result: 'retrying',
      jid: '2',
      since: '2026-11-24T14:00:00.000Z',
      failures: 3,
      failed_state: { id: 'unlock', comment: `${'x'.repeat(100)}\nsecond line` },
    },
  },
  {
    id: 'app',
    connected: true,
    last_seen: '2026-11-24T15:00:02.000Z',
    address: '10.0.0.6',
    startup: {
      ...none,
      result: 'failed',
      jid: '3',
      since: '2026-11-24T15:00:02.000Z',
      failures: 1,
      failed_state: { id: null, comment: 'render error' },
    },
  },
];

describe('master status table', () => {
  it('prints one aligned line per minion, times to the second, the first line of a failing comment', () => {
    expect(formatStatusTable(minions, false)).toBe(
      [
        'MINION  CONNECTION    LAST SEEN             ADDRESS   STARTUP',
        'db1     connected     2026-11-24T15:00:01Z  10.0.0.5  ok 2026-11-24T15:00:00Z',
        `web10   disconnected  -                     -         retrying since 2026-11-24T14:00:00Z (3 failed runs): unlock: ${'x'.repeat(79)}…`,
        'app     connected     2026-11-24T15:00:02Z  10.0.0.6  failed 2026-11-24T15:00:02Z: render error',
        '',
      ].join('\n'),
    );
  });

  it('colours the connection and the startup result on a terminal only, keeping the columns aligned', () => {
    const coloured = formatStatusTable(minions, true);
    expect(coloured).toContain('\x1b[0;31mdisconnected\x1b[0m');
    expect(coloured).toContain('\x1b[0;32mconnected   \x1b[0m');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts the ANSI colour codes this strips
    expect(coloured.replace(/\x1b\[[0-9;]*m/g, '')).toBe(formatStatusTable(minions, false));
  });

  it('counts a minion as healthy only when connected with its startup states done well or absent', () => {
    expect(minions.map(isHealthy)).toEqual([true, false, false]);
    expect(isHealthy({ ...minions[0]!, startup: none })).toBe(true);
    expect(isHealthy({ ...minions[0]!, startup: { ...none, result: 'running' } })).toBe(false);
  });
});
