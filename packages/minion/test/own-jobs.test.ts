import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BrineError, createLogger } from '@brine/common';
import type { MasterChannel } from '../src/channel.js';
import { JobRunner, type JobResult, type OwnJob } from '../src/jobs.js';
import { ReturnStore } from '../src/returns.js';
import { StartupStates } from '../src/state-run/startup-states.js';

const log = createLogger({ name: 'test', level: 'silent' });
const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A runner whose state.apply waits until the test lets it finish; the master takes every return. */
function runner() {
  const dir = mkdtempSync(join(tmpdir(), 'own-jobs-'));
  dirs.push(dir);
  const channel = { request: () => Promise.resolve({ value: true }) } as unknown as MasterChannel;
  const finish: (() => void)[] = [];
  const ran: string[] = [];
  const jobs = new JobRunner(
    channel,
    {
      'state.apply': (job) => {
        ran.push(job.jid);
        return new Promise<JobResult>((done) => finish.push(() => done({ success: true, ret: {} })));
      },
    },
    new ReturnStore(dir, log),
    log,
  );
  return { jobs, finish, ran };
}

const own = (jid: string, begun: string[]): OwnJob => ({
  fun: 'state.apply',
  args: {},
  begin: async () => {
    begun.push(jid);
    return jid;
  },
});
const tick = () => new Promise((r) => setTimeout(r, 10));

describe('jobs the minion starts itself', () => {
  it('begin (are recorded on the master) only when their turn comes, and say what holds the runner', async () => {
    const { jobs, finish, ran } = runner();
    const begun: string[] = [];
    const first = jobs.enqueue({ t: 'job', jid: '20260101000000000001', fun: 'state.apply', args: {} });
    await tick();
    const second = jobs.enqueue(own('20260101000000000002', begun));
    await tick();
    expect(begun).toEqual([]);
    expect(jobs.activity()).toEqual({ busy: true, running: { jid: '20260101000000000001', fun: 'state.apply' }, queued: 1 });
    finish[0]!();
    await first;
    await tick();
    expect(begun).toEqual(['20260101000000000002']);
    finish[1]!();
    expect(await second).toEqual({ success: true, ret: {} });
    expect(ran).toEqual(['20260101000000000001', '20260101000000000002']);
    jobs.stop();
  });

  it('leave the line when aborted, never beginning; once started, abort does not stop them', async () => {
    const { jobs, finish, ran } = runner();
    const begun: string[] = [];
    const first = jobs.enqueue(own('20260101000000000001', begun));
    await tick();
    const leave = new AbortController();
    const waiting = jobs.enqueue(own('20260101000000000002', begun), { signal: leave.signal });
    leave.abort(new BrineError('busy', 'gave up'));
    await expect(waiting).rejects.toThrow('gave up');
    const started = new AbortController();
    const third = jobs.enqueue(own('20260101000000000003', begun), { signal: started.signal });
    finish[0]!();
    await first;
    await tick();
    started.abort(new BrineError('client_gone', 'left'));
    finish[1]!();
    expect((await third).success).toBe(true);
    expect(begun).toEqual(['20260101000000000001', '20260101000000000003']);
    expect(ran).toEqual(begun);
    jobs.stop();
  });

  it('reject when the master does not record them, and the next job runs', async () => {
    const { jobs, finish } = runner();
    const failing: OwnJob = { fun: 'state.apply', args: {}, begin: () => Promise.reject(new Error('master unreachable')) };
    await expect(jobs.enqueue(failing)).rejects.toThrow('master unreachable');
    const next = jobs.enqueue({ t: 'job', jid: '20260101000000000004', fun: 'state.apply', args: {} });
    await tick();
    finish[0]!();
    expect((await next).success).toBe(true);
    jobs.stop();
  });
});

describe('startup states', () => {
  const ok: JobResult = { success: true, ret: {} };
  it('count as done once a run of the same SLS, in any order, succeeds; not for other states, test mode or failures', async () => {
    const startup = new StartupStates({ startup_states: 'sls', sls_list: ['storage.luks', 'web'] });
    expect(startup.pending).toBe(true);
    expect(startup.settle({ mods: ['web'], test: false }, ok)).toBe(false);
    expect(startup.settle({ mods: ['web', 'storage.luks'], test: true }, ok)).toBe(false);
    expect(startup.settle({ mods: ['web', 'storage.luks'], test: false }, { success: false, ret: {} })).toBe(false);
    expect(startup.pending).toBe(true);
    expect(startup.settle({ mods: ['web', 'storage.luks'], test: false }, ok)).toBe(true);
    await startup.done;
    expect(startup.settle({ mods: ['web', 'storage.luks'], test: false }, ok)).toBe(false);
  });

  it('highstate is the run without SLS names; without startup states there is nothing to wait for', async () => {
    const high = new StartupStates({ startup_states: 'highstate', sls_list: [] });
    expect(high.settle({ mods: ['web'], test: false }, ok)).toBe(false);
    expect(high.settle({ mods: [], test: false }, ok)).toBe(true);
    const none = new StartupStates({ startup_states: '', sls_list: [] });
    expect(none.pending).toBe(false);
    await none.done;
  });
});
