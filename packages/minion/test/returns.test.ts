import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@brine/common';
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
    const runner = new JobRunner(unreachable, { 'test.ping': async () => ({ success: true, ret: true }), 'state.apply': async () => ({ success: true, ret: {} }) }, store, log);
    await runner.enqueue({ t: 'job', jid: '20261124120000000005', fun: 'test.ping', args: {} });
    await runner.enqueue({ t: 'job', jid: '20261124120000000006', fun: 'state.apply', args: {} });
    // Delivery fails: the runner writes the state run's return before it says so.
    await runner.flush();
    expect(store.pending().map((r) => r.jid)).toEqual(['20261124120000000005', '20261124120000000006']);
    expect(readdirSync(join(dir, 'returns'))).toEqual(['20261124120000000006.json']);
  });
});
