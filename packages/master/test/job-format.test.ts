import { describe, expect, it } from 'vitest';
import { formatJobList, jobHeader, jobWhat } from '../src/cli/job-format.js';
import type { JobRecord } from '../src/jobs/job-store.js';

describe('jobs list and show', () => {
  const job = (over: Partial<JobRecord>): JobRecord => ({
    jid: '20261124150000000001',
    origin: 'master',
    fun: 'state.apply',
    args: { mods: [], test: false },
    target: '*',
    tgt_type: 'glob',
    minions: ['db1', 'web1'],
    start_time: '2026-11-24T15:00:00.000Z',
    ...over,
  });

  it('shows the origin, the SLS or highstate and --test, with startup jobs marked', () => {
    expect(jobWhat(job({ args: { mods: ['web', 'db'], test: true } }))).toBe('state.apply web,db --test');
    expect(jobWhat(job({ fun: 'test.ping', args: {} }))).toBe('test.ping');
    const list = [job({ origin: 'startup', target: 'db1', tgt_type: 'list', minions: ['db1'] }), job({ fun: 'test.ping', args: {} })];
    expect(formatJobList(list, false)).toBe(
      [
        '20261124150000000001  startup  state.apply highstate  list:db1  (1 minion)',
        '20261124150000000001  master   test.ping              glob:*  (2 minions)',
        '',
      ].join('\n'),
    );
    expect(formatJobList(list, true)).toContain('\x1b[1;33mstartup\x1b[0m');
    expect(jobHeader(list[0]!)).toBe(
      "jid 20261124150000000001: state.apply highstate on list:db1 at 2026-11-24T15:00:00.000Z, origin startup (the minion's startup states)\n",
    );
  });
});
