import { describe, expect, it } from 'vitest';
import type { Json } from '@brine/protocol';
import { firstFailedState, startupStatus, type StartupRun } from '../src/jobs/startup-status.js';

/** A startup run; `ret` undefined: begun, no return yet. */
const run = (n: number, ret?: { success: boolean; ret?: Json }): StartupRun => ({
  jid: `2026112415000000000${n}`,
  start_time: `2026-11-24T15:00:0${n}.000Z`,
  ret: () => ret && { minion: 'db1', success: ret.success, ret: ret.ret ?? true, time: `2026-11-24T15:00:0${n}.500Z` },
});

const state = (id: string, runNum: number, result: boolean, comment: string) => ({
  [`cmd_|-${id}_|-x_|-run`]: { __id__: id, __run_num__: runNum, result, comment },
});
const failing = {
  ...state('after', 2, false, 'One or more requisite failed'),
  ...state('unlock', 1, false, 'No key for /dev/sdb'),
  ...state('first', 0, true, 'fine'),
};

describe('startup status', () => {
  it('is none without startup runs, running while the first has not returned', () => {
    expect(startupStatus([])).toEqual({ result: 'none', jid: null, since: null, failures: 0, failed_state: null });
    expect(startupStatus([run(1)])).toMatchObject({ result: 'running', jid: '20261124150000000001', since: '2026-11-24T15:00:01.000Z' });
  });

  it('is ok when the newest run succeeded, whatever failed before it', () => {
    expect(startupStatus([run(3, { success: true }), run(2, { success: false, ret: failing })])).toEqual({
      result: 'ok',
      jid: '20261124150000000003',
      since: '2026-11-24T15:00:03.500Z',
      failures: 0,
      failed_state: null,
    });
  });

  it('is failed after one failed run, naming the failed state that ran first', () => {
    expect(startupStatus([run(2, { success: false, ret: failing }), run(1, { success: true })])).toEqual({
      result: 'failed',
      jid: '20261124150000000002',
      since: '2026-11-24T15:00:02.500Z',
      failures: 1,
      failed_state: { id: 'unlock', comment: 'No key for /dev/sdb' },
    });
  });

  it('is retrying since the first failure of the streak, while a new run is under way or after the second failure', () => {
    const streak = [
      run(3, { success: false, ret: failing }),
      run(2, { success: false, ret: ['render error in top.sls'] }),
      run(1, { success: true }),
    ];
    expect(startupStatus([run(4), ...streak])).toMatchObject({
      result: 'retrying',
      jid: '20261124150000000004',
      since: '2026-11-24T15:00:02.500Z',
      failures: 2,
      failed_state: { id: 'unlock' },
    });
    expect(startupStatus(streak)).toMatchObject({ result: 'retrying', since: '2026-11-24T15:00:02.500Z', failures: 2 });
    expect(startupStatus([run(2), run(1, { success: false })])).toMatchObject({ result: 'retrying', failures: 1 });
  });

  it('ends a streak at a run whose outcome is unknown', () => {
    expect(startupStatus([run(3, { success: false, ret: failing }), run(2), run(1, { success: false })])).toMatchObject({
      result: 'failed',
      failures: 1,
    });
  });

  it('reads returns only as far as it needs them', () => {
    const read: number[] = [];
    const counted = (r: StartupRun, n: number): StartupRun => ({ ...r, ret: () => (read.push(n), r.ret()) });
    startupStatus([counted(run(3, { success: true }), 3), counted(run(2, { success: false }), 2)]);
    expect(read).toEqual([3]);
  });
});

describe('the first failed state', () => {
  it('names a run that never reached its states by its first problem or reason', () => {
    expect(firstFailedState(['a.sls: line 3: bad', 'b.sls: worse'])).toEqual({ id: null, comment: 'a.sls: line 3: bad' });
    expect(firstFailedState('master unreachable')).toEqual({ id: null, comment: 'master unreachable' });
  });

  it('bounds what the minion wrote, and copes with returns that are not shaped as state results', () => {
    expect(firstFailedState(state('x', 0, false, 'y'.repeat(10_000))).comment).toHaveLength(500);
    expect(firstFailedState({ tag: { result: false } })).toEqual({ id: 'tag', comment: '' });
    expect(firstFailedState({ tag: 'nonsense', other: null })).toEqual({
      id: null,
      comment: 'the run failed, but no state reports a failure',
    });
  });
});
