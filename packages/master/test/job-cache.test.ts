import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@brine/common';
import { JobCache } from '../src/jobs/job-cache.js';
import type { JobRecord } from '../src/jobs/job-store.js';

const log = createLogger({ name: 'test', level: 'silent' });
const dirs: string[] = [];
const cachedir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'job-cache-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

const JID = '20261124150000123456';
const minions = Array.from({ length: 50 }, (_, i) => `m${String(i).padStart(3, '0')}`);
const job: JobRecord = {
  jid: JID,
  origin: 'master',
  fun: 'test.ping',
  args: {},
  target: '*',
  tgt_type: 'glob',
  minions,
  start_time: '2026-11-24T15:00:00.123Z',
};
const ret = (minion: string, success = true) => ({ minion, success, ret: success, time: '2026-11-24T15:00:01.000Z' });

describe('job cache returns', () => {
  it('stores fifty returns arriving at once, each settling once on disk, readable by a new cache', async () => {
    const dir = cachedir();
    const cache = new JobCache(dir, 24, log);
    await cache.create(job);
    const saved = minions.map((m) => cache.addReturn(JID, ret(m)));
    expect(saved.every((p) => p instanceof Promise)).toBe(true);
    // Served from memory before the write lands.
    expect(cache.returns(JID)).toHaveLength(50);
    await Promise.all(saved);
    const file = join(dir, 'jobs', JID, 'returns.jsonl');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8').trimEnd().split('\n')).toHaveLength(50);
    expect(new JobCache(dir, 24, log).returns(JID)).toEqual(minions.map((m) => ret(m)));
  });

  it("keeps a minion's latest return for a job, and refuses a minion the job was not for", async () => {
    const dir = cachedir();
    const cache = new JobCache(dir, 24, log);
    await cache.create(job);
    await cache.addReturn(JID, ret('m001', false));
    await cache.addReturn(JID, ret('m001', true));
    expect(await cache.addReturn(JID, ret('intruder'))).toBe(false);
    expect(new JobCache(dir, 24, log).returns(JID)).toEqual([ret('m001', true)]);
  });

  it('skips a line cut short by a crash and keeps the returns written after it whole', async () => {
    const dir = cachedir();
    const before = new JobCache(dir, 24, log);
    await before.create(job);
    await before.addReturn(JID, ret('m000'));
    // The master died in the middle of its next append; a new master process appends after it.
    appendFileSync(join(dir, 'jobs', JID, 'returns.jsonl'), '{"minion":"m001","succ');
    const after = new JobCache(dir, 24, log);
    await after.addReturn(JID, ret('m002'));
    expect(new JobCache(dir, 24, log).returns(JID)).toEqual([ret('m000'), ret('m002')]);
  });

  it('reads a job recorded before origins existed as published by the master', () => {
    const dir = cachedir();
    const { origin: _, ...old } = job;
    mkdirSync(join(dir, 'jobs', JID), { recursive: true });
    writeFileSync(join(dir, 'jobs', JID, 'job.json'), JSON.stringify(old));
    const cache = new JobCache(dir, 24, log);
    expect(cache.job(JID)).toEqual(job);
    expect(cache.list()).toEqual([job]);
  });
});
