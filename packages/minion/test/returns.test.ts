import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Backoff, createLogger } from '@brine/common';
import { ChannelError, type MasterChannel } from '../src/channel.js';
import { JobRunner } from '../src/jobs.js';
import { ReturnStore } from '../src/returns.js';

const log = createLogger({ name: 'test', level: 'silent' });
const dirs: string[] = [];
const cachedir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'returns-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

const ret = (jid: string) => ({ jid, fun: 'test.ping', success: true, ret: true });

describe('minion return store', () => {
  it('keeps returns on disk when asked to, private, and hands them to a new store oldest first', async () => {
    const dir = cachedir();
    const store = new ReturnStore(dir, log);
    store.add(ret('20261124120000000002'));
    store.add(ret('20261124120000000001'));
    expect(store.pending().map((r) => r.jid)).toEqual(['20261124120000000002', '20261124120000000001']);
    await store.saveAll();
    const files = readdirSync(join(dir, 'returns')).sort();
    expect(files).toEqual(['20261124120000000001.json', '20261124120000000002.json']);
    expect(JSON.parse(readFileSync(join(dir, 'returns', files[0]!), 'utf8'))).toEqual(ret('20261124120000000001'));
    expect(new ReturnStore(dir, log).pending().map((r) => r.jid)).toEqual(['20261124120000000001', '20261124120000000002']);
  });

  it('does not leave a file behind when the acknowledgement comes before the write has landed', async () => {
    const dir = cachedir();
    const store = new ReturnStore(dir, log);
    store.add(ret('20261124120000000003'));
    const saving = store.saveAll();
    // Acknowledged while the write is still in flight.
    await store.remove('20261124120000000003');
    await saving;
    expect(store.pending()).toEqual([]);
    expect(readdirSync(join(dir, 'returns'))).toEqual([]);
    expect(new ReturnStore(dir, log).pending()).toEqual([]);
  });
});

describe('minion return store, timing', () => {
  it('writes nothing for a return acknowledged in time, and writes one that is not', async () => {
    const dir = cachedir();
    const store = new ReturnStore(dir, log, 50);
    store.add(ret('20261124120000000007'));
    store.add(ret('20261124120000000008'));
    store.add(ret('20261124120000000009'), false);
    await store.remove('20261124120000000007');
    expect(readdirSync(join(dir, 'returns'))).toEqual([]);
    await new Promise((r) => setTimeout(r, 200));
    // The unacknowledged durable one is on disk now; the ping-like one never is.
    expect(readdirSync(join(dir, 'returns'))).toEqual(['20261124120000000008.json']);
    expect(store.pending().map((r) => r.jid)).toEqual(['20261124120000000008', '20261124120000000009']);
    await store.remove('20261124120000000008');
    expect(readdirSync(join(dir, 'returns'))).toEqual([]);
  });
});

describe('minion job runner', () => {
  it('keeps state runs on disk until the master has them, and ping answers in memory only', async () => {
    const dir = cachedir();
    const store = new ReturnStore(dir, log);
    // A master that never answers: every return stays pending.
    const unreachable = { request: () => Promise.reject(new ChannelError('timeout', 'master unreachable')) } as unknown as MasterChannel;
    const runner = new JobRunner(
      unreachable,
      { 'test.ping': async () => ({ success: true, ret: true }), 'state.apply': async () => ({ success: true, ret: {} }) },
      store,
      log,
    );
    await runner.enqueue({ t: 'job', jid: '20261124120000000005', fun: 'test.ping', args: {} });
    await runner.enqueue({ t: 'job', jid: '20261124120000000006', fun: 'state.apply', args: {} });
    // Delivery fails: the runner writes the state run's return before it says so.
    await runner.flush();
    expect(store.pending().map((r) => r.jid)).toEqual(['20261124120000000005', '20261124120000000006']);
    expect(readdirSync(join(dir, 'returns'))).toEqual(['20261124120000000006.json']);
    runner.stop();
  });
});

describe('minion job runner, delivery retries', () => {
  const A = '20261124120000000010';
  const B = '20261124120000000011';
  const functions = { 'state.apply': async () => ({ success: true, ret: {} }) };
  const job = (jid: string) => ({ t: 'job' as const, jid, fun: 'state.apply', args: {} });

  /** A master that answers `job.return` with `answer(n)` for the n-th call, recording the jids in order. */
  const master = (answer: (n: number) => Promise<unknown>) => {
    const calls: { jid: string; at: number }[] = [];
    const channel = {
      request: (_op: string, args: { jid: string }) => {
        calls.push({ jid: args.jid, at: performance.now() });
        return answer(calls.length);
      },
    } as unknown as MasterChannel;
    return { calls, channel };
  };

  it('sends a return again by itself, oldest first, until the master takes it: no reconnect needed', async () => {
    const store = new ReturnStore(cachedir(), log);
    // The master refuses the first two deliveries (could not save), then takes everything.
    const { calls, channel } = master((n) =>
      n <= 2 ? Promise.reject(new ChannelError('return_not_saved', 'disk full')) : Promise.resolve({ value: true }),
    );
    const runner = new JobRunner(channel, functions, store, log, new Backoff(20, 40));
    await runner.enqueue(job(A));
    await runner.enqueue(job(B));
    await vi.waitUntil(() => store.pending().length === 0, { timeout: 5000, interval: 10 });
    expect(calls.map((c) => c.jid)).toEqual([A, A, A, B]);
    runner.stop();
  });

  it('keeps retrying a master that is down with growing delays, and stops when told', async () => {
    const store = new ReturnStore(cachedir(), log);
    const { calls, channel } = master(() => Promise.reject(new ChannelError('timeout', 'master unreachable')));
    const runner = new JobRunner(channel, functions, store, log, new Backoff(20, 80));
    await runner.enqueue(job(A));
    await vi.waitUntil(() => calls.length >= 5, { timeout: 5000, interval: 10 });
    runner.stop();
    // Backoff waits at least half its step: 10, 20, 40, 40 ms (timers may fire a millisecond early).
    const gaps = calls.slice(1, 5).map((c, i) => c.at - calls[i]!.at);
    [10, 20, 40, 40].forEach((min, i) => expect(gaps[i]).toBeGreaterThanOrEqual(min - 1));
    const made = calls.length;
    await new Promise((r) => setTimeout(r, 200));
    expect(calls.length).toBe(made);
    expect(store.pending().map((r) => r.jid)).toEqual([A]);
  });

  it('runs another pass when a flush is asked for during a failing one (a session that came up meanwhile)', async () => {
    const store = new ReturnStore(cachedir(), log);
    let failFirst!: (e: Error) => void;
    // The first delivery hangs (sent on the old session), then fails; later ones succeed.
    const { calls, channel } = master((n) =>
      n === 1 ? new Promise((_, reject) => (failFirst = reject)) : Promise.resolve({ value: true }),
    );
    // A retry delay far beyond the test: only the second pass can deliver.
    const runner = new JobRunner(channel, functions, store, log, new Backoff(60_000, 60_000));
    store.add({ jid: A, fun: 'state.apply', success: true, ret: {} });
    const first = runner.flush();
    const onSession = runner.flush();
    failFirst(new ChannelError('timeout', 'no answer on the old session'));
    await Promise.all([first, onSession]);
    expect(calls.map((c) => c.jid)).toEqual([A, A]);
    expect(store.pending()).toEqual([]);
    runner.stop();
  });
});
