import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, ROOT } from '../support/cluster.js';

const PILLAR = join(ROOT, 'test', 'fixtures', 'pillar');
const SECRETS = ['DB1-SECRET-7f3a9c', 'WEB1-SECRET-b2e4d1'];

describe('master apply: states pushed to running minions', () => {
  const cluster = new Cluster(PILLAR, { auto_accept: true });
  const out = join(cluster.dir, 'out');

  beforeAll(async () => {
    mkdirSync(out);
    await cluster.startMaster();
    const minions = ['db1', 'web1'].map((id) => cluster.startMinion({ id, extra: { grains: { out_dir: out } } }));
    await Promise.all(minions.map((m) => m.waitFor('minion ready')));
  });
  afterAll(() => cluster.close());

  it('test mode reports what would change and changes nothing', async () => {
    const r = await cluster.masterCmd('apply', '*', 'hello', '--test', '--json');
    expect(r.exitCode).toBe(0);
    const ret = JSON.parse(String(r.stdout)) as Record<string, Record<string, { result: boolean | null; comment: string }>>;
    expect(Object.keys(ret)).toEqual(['db1', 'web1']);
    const greeting = Object.entries(ret['db1']!).find(([tag]) => tag.startsWith('file_|-greeting'))![1];
    expect(greeting.result).toBeNull();
    expect(existsSync(join(out, 'db1.txt'))).toBe(false);
    // The job cache says who published it, what it ran and that it was a test.
    const [job] = JSON.parse(String((await cluster.masterCmd('jobs', 'list', '--json')).stdout)) as { jid: string }[];
    expect(job).toMatchObject({ origin: 'master', fun: 'state.apply', args: { mods: ['hello'], test: true } });
    expect(String((await cluster.masterCmd('jobs', 'list')).stdout)).toBe(
      `${job!.jid}  master  state.apply hello --test  glob:*  (2 minions)`,
    );
    const shown = String((await cluster.masterCmd('jobs', 'show', job!.jid)).stdout);
    expect(shown.split('\n')[0]).toMatch(
      /^jid \d{20}: state\.apply hello --test on glob:\* at \S+, origin master \(published by the master\)$/,
    );
  });

  it('applies an SLS on the targeted minion only, rendered with its grains and pillar', async () => {
    const r = await cluster.masterCmd('apply', 'db1', 'hello');
    expect(r.exitCode).toBe(0);
    expect(String(r.stdout)).toContain('Summary for db1');
    expect(String(r.stdout)).toMatch(/Succeeded: 2 \(changed=2\)/);
    expect(readFileSync(join(out, 'db1.txt'), 'utf8')).toBe('hello from db1, site e2e\n');
    expect(existsSync(join(out, 'web1.txt'))).toBe(false);
    // Running it again leaves the file alone (cmd.run, by design, runs every time).
    const again = await cluster.masterCmd('apply', 'db1', 'hello', '--json');
    const states = JSON.parse(String(again.stdout))['db1'] as Record<string, { changes: object; comment: string }>;
    const greeting = Object.entries(states).find(([tag]) => tag.startsWith('file_|-greeting'))![1];
    expect(greeting.changes).toEqual({});
    expect(greeting.comment).toContain('is in the correct state');
  });

  it('a failing state gives exit 1 and its comment, and its dependents do not run', async () => {
    const r = await cluster.masterCmd('apply', 'web1', 'broken');
    expect(r.exitCode).toBe(1);
    const text = String(r.stdout);
    expect(text).toContain('Command "echo about to fail && exit 3" run');
    expect(text).toContain('One or more requisite failed: broken.will-fail');
    expect(text).toMatch(/Failed:\s+2/);
  });

  it("runs the highstate from the master's top file", async () => {
    const r = await cluster.masterCmd('apply', 'web1', 'highstate');
    expect(r.exitCode).toBe(0);
    expect(readFileSync(join(out, 'web1.txt'), 'utf8')).toBe('hello from web1, site e2e\n');
  });

  it('keeps pillar secrets out of returns, the job cache and every log', async () => {
    const r = await cluster.masterCmd('apply', '*', 'hello', '--json');
    const text = String(r.stdout);
    expect(text).toContain('<redacted>');
    const jobs = JSON.parse(String((await cluster.masterCmd('jobs', 'list', '--json')).stdout)) as { jid: string }[];
    const shown = await Promise.all(jobs.map((j) => cluster.masterCmd('jobs', 'show', j.jid, '--json')));
    const everything = [
      text,
      ...shown.map((s) => String(s.stdout)),
      ...cluster.daemons.map((d) => d.output),
      ...cluster.cliStderr,
      JSON.stringify(cluster.audit()),
    ].join('\n');
    for (const secret of SECRETS) expect(everything).not.toContain(secret);
  });

  it('delivers a return after a master restart, for a job that finished while the master was down', async () => {
    const early = await cluster.masterCmd('apply', 'db1', 'slow', '--timeout', '1');
    expect(early.exitCode).toBe(1);
    expect(String(early.stdout)).toContain('Minion did not return. [No response]');
    const [job] = JSON.parse(String((await cluster.masterCmd('jobs', 'list', '--json')).stdout)) as {
      jid: string;
      args: { mods: string[] };
    }[];
    expect(job!.args.mods).toEqual(['slow']);
    await cluster.master!.stop();
    const db1 = cluster.daemons.find((d) => d.output.includes('"id":"db1"'))!;
    await db1.waitFor('could not deliver a job return; retrying');
    await cluster.startMaster();
    const deadline = Date.now() + 30_000;
    let returns: { minion: string; success: boolean }[] = [];
    while (returns.length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      returns = JSON.parse(String((await cluster.masterCmd('jobs', 'show', job!.jid, '--json')).stdout)).returns;
    }
    expect(returns).toEqual([expect.objectContaining({ minion: 'db1', success: true })]);
  });

  it('keeps a return on disk across a minion restart, delivers it, then removes it', async () => {
    // The master was restarted just before: web1 answers once its keepalive has found the new one.
    await expect
      .poll(async () => (await cluster.masterCmd('ping', 'web1', '--timeout', '1')).exitCode, { timeout: 30_000, interval: 500 })
      .toBe(0);
    const early = await cluster.masterCmd('apply', 'web1', 'slow', '--timeout', '1');
    expect(early.exitCode).toBe(1);
    const [job] = JSON.parse(String((await cluster.masterCmd('jobs', 'list', '--json')).stdout)) as { jid: string }[];
    await cluster.master!.stop();
    const web1 = cluster.daemons.find((d) => d.output.includes('"id":"web1"'))!;
    await web1.waitFor('could not deliver a job return; retrying');
    const saved = join(cluster.dir, 'minion-cache-web1', 'returns');
    expect(readdirSync(saved)).toEqual([`${job!.jid}.json`]);
    expect(await web1.stop()).toBe(0);
    await cluster.startMaster();
    await cluster.startMinion({ id: 'web1', extra: { grains: { out_dir: out } } }).waitFor('minion ready');
    await expect
      .poll(async () => JSON.parse(String((await cluster.masterCmd('jobs', 'show', job!.jid, '--json')).stdout)).returns, {
        timeout: 30_000,
        interval: 500,
      })
      .toEqual([expect.objectContaining({ minion: 'web1', success: true })]);
    await expect.poll(() => readdirSync(saved), { timeout: 5_000 }).toEqual([]);
    // The tests after this one need db1 back on the new master too.
    await expect
      .poll(async () => (await cluster.masterCmd('ping', '*', '--timeout', '1')).exitCode, { timeout: 30_000, interval: 500 })
      .toBe(0);
  });

  it('shows pillar values that are not secrets in IDs, names and output, as Salt does; the secret stays blanked', async () => {
    const r = await cluster.masterCmd('apply', 'db1', 'names', '--json');
    expect(r.exitCode, String(r.stdout)).toBe(0);
    const text = String(r.stdout);
    expect(text).toContain('test_|-vg-vg_db_|-/dev/vg_db_|-succeed_without_changes');
    expect(text).toContain('"stdout": "vg_db ok"');
    expect(text).toContain('cmd_|-check-vg_db_|-test -n \\"<redacted>\\" && echo \\"vg_db ok\\"_|-run');
    expect(text).not.toContain(SECRETS[0]);
  });

  it('blanks a pillar value out of a return even when the minion did not know it was one', async () => {
    writeFileSync(join(out, 'copied-secret'), `${SECRETS[0]}\n`);
    const r = await cluster.masterCmd('apply', 'db1', 'leak', '--json');
    expect(r.exitCode).toBe(0);
    expect(String(r.stdout)).toContain('"stdout": "<redacted>"');
    expect(String(r.stdout)).not.toContain(SECRETS[0]);
  });

  it('runs jobs one at a time in arrival order on a minion', async () => {
    const [a, b] = await Promise.all([cluster.masterCmd('apply', 'db1', 'hello'), cluster.masterCmd('ping', 'db1')]);
    expect(a.exitCode).toBe(0);
    expect(b.exitCode).toBe(0);
    const db1 = cluster.daemons.find((d) => d.output.includes('"id":"db1"'))!;
    const received = db1
      .lines()
      .filter((l) => l['msg'] === 'job received')
      .slice(-2);
    const finished = db1
      .lines()
      .filter((l) => l['msg'] === 'job finished')
      .slice(-2);
    expect(finished.map((l) => l['jid'])).toEqual(received.map((l) => l['jid']));
  });

  it('renders a file template on the minion from the tree it mirrored, with its grains and pillar; the secret it read stays out', async () => {
    const r = await cluster.masterCmd('apply', 'db1', 'templated', '--json');
    expect(r.exitCode).toBe(0);
    expect(readFileSync(join(out, 'db1.conf'), 'utf8')).toBe(`hi from db1, site e2e, vg vg_db.\npassword ${SECRETS[0]}\n`);
    expect(String(r.stdout)).not.toContain(SECRETS[0]);
    const again = JSON.parse(String((await cluster.masterCmd('apply', 'db1', 'templated', '--json')).stdout))['db1'];
    expect(Object.values(again as Record<string, { changes: object }>).map((s) => s.changes)).toEqual([{}]);
  });
});
