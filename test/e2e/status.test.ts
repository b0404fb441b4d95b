import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Json } from '@brine/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, ROOT, runOnTty, type Daemon } from '../support/cluster.js';
import { RawClient } from '../support/raw-client.js';

interface Startup {
  result: string;
  jid: string | null;
  since: string | null;
  failures: number;
  failed_state: { id: string | null; comment: string } | null;
}
interface Status {
  id: string;
  connected: boolean;
  last_seen: string | null;
  address: string | null;
  startup: Startup;
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts an ANSI colour code (SGR)
const SGR = /\x1b\[[0-9;]*m/;

describe('master status', () => {
  const cluster = new Cluster(join(ROOT, 'test', 'fixtures', 'pillar'), { auto_accept: true });
  const out = join(cluster.dir, 'out');
  let web1: Daemon;
  let raw: RawClient | undefined;

  /** `master status ... --json`: the exit status and the minions by id. */
  const status = async (...args: string[]) => {
    const r = await cluster.masterCmd('status', ...args, '--json');
    if (r.exitCode === 2) throw new Error(`status failed: ${String(r.stderr)}`);
    const minions = (JSON.parse(String(r.stdout)) as { minions: Status[] }).minions;
    return { code: r.exitCode, minions, of: (id: string) => minions.find((m) => m.id === id)! };
  };

  beforeAll(async () => {
    mkdirSync(out);
    await cluster.startMaster();
    // db1's startup state fails until the test opens the gate; it retries every 2 s at most.
    cluster.startMinion({
      id: 'db1',
      extra: { grains: { out_dir: out }, startup_states: 'sls', sls_list: ['gate'], startup_retry_max: 2 },
    });
    web1 = cluster.startMinion({ id: 'web1' });
    await web1.waitFor('minion ready');
  });
  afterAll(async () => {
    raw?.close();
    await cluster.close();
  });

  it('reports failing startup states as retrying since the first failure, naming the failing state, then ok once they pass', async () => {
    await expect
      .poll(async () => (await status('db1')).of('db1').startup.failures, { timeout: 30_000, interval: 300 })
      .toBeGreaterThanOrEqual(2);
    const failing = await status('db1');
    expect(failing.code).toBe(1);
    const { startup } = failing.of('db1');
    expect(startup).toMatchObject({ result: 'retrying', failed_state: { id: 'unlock-gate', comment: expect.stringContaining('test -e') } });
    expect(startup.since).toMatch(ISO);
    const table = await cluster.masterCmd('status', 'db1');
    expect(table.exitCode).toBe(1);
    expect(String(table.stdout)).toMatch(
      /^db1 +connected +\S+ +127\.0\.0\.1 +retrying since \S+Z \(\d+ failed runs\): unlock-gate: Command "test -e /m,
    );

    writeFileSync(join(out, 'gate'), '');
    await expect.poll(async () => (await status('db1')).of('db1').startup.result, { timeout: 30_000, interval: 300 }).toBe('ok');
    const fine = await status('db1');
    expect(fine.code).toBe(0);
    expect(fine.of('db1').startup).toEqual({
      result: 'ok',
      jid: expect.stringMatching(/^\d{20}$/),
      since: expect.stringMatching(ISO),
      failures: 0,
      failed_state: null,
    });
    expect(String((await cluster.masterCmd('status', 'db1')).stdout)).toMatch(/^db1 +connected +\S+ +127\.0\.0\.1 +ok \S+Z$/m);
  });

  it('lists startup jobs in the job cache as such, with their SLS', async () => {
    const jobs = JSON.parse(String((await cluster.masterCmd('jobs', 'list', '--json')).stdout)) as {
      jid: string;
      origin: string;
      target: string;
    }[];
    const startup = jobs.filter((j) => j.origin === 'startup');
    expect(startup.length).toBeGreaterThanOrEqual(3);
    expect(startup.every((j) => j.target === 'db1')).toBe(true);
    expect(jobs[0]!.jid).toBe((await status('db1')).of('db1').startup.jid);
    const list = String((await cluster.masterCmd('jobs', 'list')).stdout);
    expect(list.split('\n')[0]).toMatch(/^\d{20} {2}startup {2}state\.apply gate {2}list:db1 {2}\(1 minion\)$/);
    const shown = String((await cluster.masterCmd('jobs', 'show', jobs[0]!.jid)).stdout);
    expect(shown.split('\n')[0]).toMatch(
      /^jid \d{20}: state\.apply gate on list:db1 at \S+, origin startup \(the minion's startup states\)$/,
    );
  });

  it('reports a first failure as failed, a run begun after it as retrying, and never counts runs begun on the minion', async () => {
    raw = new RawClient(cluster.port, 'raw1');
    await raw.handshake('daemon');
    const call = async (op: string, args: Record<string, Json>) =>
      (await raw!.call(raw!.request(op, args)))!.header as { ok: boolean; value?: Json; error?: { code: string } };
    const begin = async (args: Record<string, Json> = {}) =>
      (await call('job.begin', { fun: 'state.apply', args: { mods: ['gate'], test: false }, ...args })).value as string;

    const first = await begin();
    expect((await status('raw1')).of('raw1').startup).toMatchObject({ result: 'running', jid: first, failures: 0 });
    const states = {
      'cmd_|-later_|-later_|-run': { __id__: 'later', __run_num__: 1, result: false, comment: 'One or more requisite failed' },
      'cmd_|-unlock_|-unlock_|-run': { __id__: 'unlock', __run_num__: 0, result: false, comment: 'no key for /dev/vdb' },
    };
    expect((await call('job.return', { jid: first, success: false, ret: states })).ok).toBe(true);
    const failed = (await status('raw1')).of('raw1').startup;
    expect(failed).toMatchObject({
      result: 'failed',
      jid: first,
      failures: 1,
      failed_state: { id: 'unlock', comment: 'no key for /dev/vdb' },
    });
    expect(String((await cluster.masterCmd('status', 'raw1')).stdout)).toMatch(/^raw1 .* failed \S+Z: unlock: no key for \/dev\/vdb$/m);

    const second = await begin({ origin: 'startup' });
    expect((await status('raw1')).of('raw1').startup).toMatchObject({
      result: 'retrying',
      jid: second,
      since: failed.since,
      failures: 1,
      failed_state: { id: 'unlock' },
    });

    // An operator's run on the minion is a job of its own, not a startup run.
    const local = await begin({ origin: 'minion' });
    expect((await status('raw1')).of('raw1').startup.jid).toBe(second);
    const jobs = JSON.parse(String((await cluster.masterCmd('jobs', 'list', '--json')).stdout)) as { jid: string; origin: string }[];
    expect(jobs.find((j) => j.jid === local)?.origin).toBe('minion');
    expect(await call('job.begin', { fun: 'state.apply', args: { mods: [], test: false }, origin: 'master' })).toMatchObject({
      ok: false,
      error: { code: 'bad_request' },
    });
  });

  it('tells a connected minion from one whose daemon stopped, keeping when and where it was last seen', async () => {
    const before = await status('web1');
    expect(before.code).toBe(0);
    expect(before.of('web1')).toEqual({
      id: 'web1',
      connected: true,
      last_seen: expect.stringMatching(ISO),
      address: '127.0.0.1',
      startup: { result: 'none', jid: null, since: null, failures: 0, failed_state: null },
    });
    expect(String((await cluster.masterCmd('status', 'web1')).stdout)).toMatch(/^web1 +connected +\S+Z +127\.0\.0\.1 +none$/m);

    await web1.stop();
    await expect.poll(async () => (await status('web1')).of('web1').connected, { timeout: 15_000, interval: 300 }).toBe(false);
    const after = await status('web1');
    expect(after.code).toBe(1);
    expect(after.of('web1')).toMatchObject({ connected: false, address: '127.0.0.1' });
    expect(Date.parse(after.of('web1').last_seen!)).toBeGreaterThanOrEqual(Date.parse(before.of('web1').last_seen!));
    expect(String((await cluster.masterCmd('status', 'web1')).stdout)).toMatch(/^web1 +disconnected +\S+Z +127\.0\.0\.1 +none$/m);
  });

  it('lists every accepted minion without a target, and those a target matches with one, by the same targeting as apply', async () => {
    expect((await status()).minions.map((m) => m.id)).toEqual(['db1', 'raw1', 'web1']);
    expect((await status('*1')).minions.map((m) => m.id)).toEqual(['db1', 'raw1', 'web1']);
    expect((await status('-L', 'web1,db1')).minions.map((m) => m.id)).toEqual(['db1', 'web1']);
    expect((await status('-E', '^raw')).minions.map((m) => m.id)).toEqual(['raw1']);
    const table = String((await cluster.masterCmd('status')).stdout).split('\n');
    expect(table[0]).toMatch(/^MINION +CONNECTION +LAST SEEN +ADDRESS +STARTUP$/);
    expect(table.slice(1).map((l) => l.split(' ')[0])).toEqual(['db1', 'raw1', 'web1']);
  });

  it('exits 2 for a target that matches nothing and for targeting options without a target', async () => {
    const none = await cluster.masterCmd('status', 'nosuch*');
    expect([none.exitCode, String(none.stderr)]).toEqual([2, 'master: no accepted minion matches glob target "nosuch*"']);
    const flagOnly = await cluster.masterCmd('status', '-L');
    expect(flagOnly.exitCode).toBe(2);
    expect(String(flagOnly.stderr)).toContain('needs a target');
  });

  it('colours only on a terminal, and not with NO_COLOR', async () => {
    const args = ['status', '-c', cluster.masterConfig];
    const [tty, noColor] = await Promise.all([runOnTty('master', args), runOnTty('master', args, { NO_COLOR: '1' })]);
    expect(String(tty.stdout)).toMatch(SGR);
    expect(String(noColor.stdout)).toContain('disconnected');
    expect(String(noColor.stdout)).not.toMatch(SGR);
    expect(String((await cluster.masterCmd('status')).stdout)).not.toMatch(SGR);
  });

  it('keeps startup results over a master restart; connection and last seen start afresh', async () => {
    const before = (await status('db1')).of('db1').startup;
    await cluster.master!.stop();
    await cluster.startMaster();
    const after = await status();
    expect(after.of('db1').startup).toEqual(before);
    expect(after.of('raw1').startup).toMatchObject({ result: 'retrying', failed_state: { id: 'unlock' } });
    expect(after.of('web1')).toMatchObject({ connected: false, last_seen: null, address: null });
    // db1 finds the new master at its next keepalive.
    await expect.poll(async () => (await status('db1')).code, { timeout: 30_000, interval: 500 }).toBe(0);
  });
});
