import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, ROOT, type Daemon } from '../support/cluster.js';

const PILLAR = join(ROOT, 'test', 'fixtures', 'pillar');

/** How long each minion's `nap` state sleeps (seconds). */
const NAPS: Record<string, string> = { fast1: '0', slow1: '4', slow2: '4' };

interface JobShow {
  job: { jid: string; minions: string[] };
  returns: { minion: string; success: boolean }[];
}

/**
 * The master is killed (-9) while a job runs: the CLI must fail, not print a
 * partial result as success, and the minions' returns must reach the restarted
 * master within seconds, even when their first delivery after reconnecting fails.
 */
describe('a master that dies mid-job', () => {
  const cluster = new Cluster(PILLAR, { auto_accept: true });
  const minions = new Map<string, Daemon>();

  beforeAll(async () => {
    await cluster.startMaster();
    for (const [id, nap] of Object.entries(NAPS)) {
      // A long master_alive_interval: only the minion's return delivery may bring it back to a restarted master.
      minions.set(id, cluster.startMinion({ id, extra: { grains: { nap }, master_alive_interval: 60, request_timeout: 2 } }));
    }
    await Promise.all([...minions.values()].map((m) => m.waitFor('minion ready')));
  });
  afterAll(() => cluster.close());

  const show = async (jid: string): Promise<JobShow | undefined> => {
    const r = await cluster.masterCmd('jobs', 'show', jid, '--json');
    return r.exitCode === 0 ? (JSON.parse(String(r.stdout)) as JobShow) : undefined;
  };
  const newestJid = async (): Promise<string | undefined> => {
    const r = await cluster.masterCmd('jobs', 'list', '--json');
    return r.exitCode === 0 ? (JSON.parse(String(r.stdout)) as { jid: string }[])[0]?.jid : undefined;
  };
  /** Polls until `check` gives a value; how long that took. */
  const until = async <T>(
    what: string,
    check: () => Promise<T | undefined> | T | undefined,
    timeoutMs = 20_000,
  ): Promise<{ value: T; ms: number }> => {
    const started = Date.now();
    for (;;) {
      const value = await check();
      if (value !== undefined) return { value, ms: Date.now() - started };
      if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  /** Whether a minion has logged that a return's delivery failed (the wording of the log line's start is stable). */
  const deliveryFailed = (id: string) =>
    minions
      .get(id)!
      .lines()
      .some((l) => String(l['msg']).startsWith('could not deliver a job return'));
  const returnedMinions = async (jid: string, count: number) => {
    const job = await show(jid);
    return job && job.returns.length >= count ? job.returns.map((r) => r.minion).sort() : undefined;
  };

  let jid = '';

  it('apply --json exits 1 with an error object holding the returns that came in', async () => {
    const apply = cluster.masterCmd('apply', '*', 'nap', '--json');
    jid = (await until('the job to be published', newestJid)).value;
    // fast1 has returned, slow1 and slow2 are still asleep: now the master dies.
    await until('fast1 to return', () => returnedMinions(jid, 1));
    await cluster.master!.stop('SIGKILL');
    const r = await apply;
    expect(r.exitCode).toBe(1);
    const message = `the master stopped before job ${jid} finished: 1 of 3 minions returned`;
    const out = JSON.parse(String(r.stdout)) as {
      error: { code: string; message: string; jid: string; returned: Record<string, unknown> };
    };
    expect(out.error).toMatchObject({ code: 'master_lost', message, jid });
    expect(Object.keys(out.error.returned)).toEqual(['fast1']);
    expect(Object.values(out.error.returned['fast1'] as Record<string, { result: boolean }>)[0]!.result).toBe(true);
    expect(String(r.stderr)).toContain(`master: ${message}`);
  });

  it('returns the minions held while the master was down reach its job cache within seconds of its restart', async () => {
    // Both slow minions finished while the master was dead and could not deliver.
    await until('slow1 and slow2 to fail a delivery', () => (deliveryFailed('slow1') && deliveryFailed('slow2') ? true : undefined));
    await cluster.startMaster();
    const { value, ms } = await until('every return in the job cache', () => returnedMinions(jid, 3));
    expect(value).toEqual(['fast1', 'slow1', 'slow2']);
    expect(ms).toBeLessThan(10_000);
  });

  it('apply exits 1 saying the master stopped; a return the restarted master fails to save is sent again within seconds', async () => {
    const received = (id: string) => minions.get(id)!.count('job received');
    const before = { slow1: received('slow1'), slow2: received('slow2') };
    const apply = cluster.masterCmd('apply', 'slow*', 'nap');
    // Both minions are running it: now the master dies.
    await until('both slow minions to get the job', () =>
      received('slow1') > before.slow1 && received('slow2') > before.slow2 ? true : undefined,
    );
    jid = (
      await until('the job id', async () => {
        const newest = await newestJid();
        return newest !== jid ? newest : undefined;
      })
    ).value;
    await cluster.master!.stop('SIGKILL');
    const r = await apply;
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toContain(`master: the master stopped before job ${jid} finished: 0 of 2 minions returned`);

    // The restarted master cannot write this job's returns (a directory where the file goes): it refuses them.
    const returnsFile = join(cluster.dir, 'master-cache', 'jobs', jid, 'returns.jsonl');
    mkdirSync(returnsFile);
    const master = await cluster.startMaster();
    const refused = () =>
      new Set(
        master
          .lines()
          .filter((l) => l['msg'] === 'could not save a return in the job cache')
          .map((l) => l['minion']),
      );
    await until('both minions to reconnect and be refused', () => (refused().size === 2 ? true : undefined), 30_000);
    // The minions are connected and their deliveries were refused; once the master can save, they must not wait for a reconnect.
    rmSync(returnsFile, { recursive: true });
    const { value, ms } = await until('both returns in the job cache', () => returnedMinions(jid, 2));
    expect(value).toEqual(['slow1', 'slow2']);
    expect(ms).toBeLessThan(10_000);
  });
});
