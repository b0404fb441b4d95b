import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { writeKeyFile } from '@brine/common';
import { FrameType, RefuseCode, X25519Key } from '@brine/protocol';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BIN, Cluster, ROOT, type Daemon } from '../support/cluster.js';
import { RawClient } from '../support/raw-client.js';

const PILLAR = join(ROOT, 'test', 'fixtures', 'pillar');

/** Minion ids and the static grains each reports. */
const FLEET: Record<string, Record<string, string>> = {
  web1: { role: 'web', dc: 'east' },
  web2: { role: 'web', dc: 'west' },
  db1: { role: 'db', dc: 'east' },
  cache9: { role: 'cache', dc: 'west' },
};

describe('pushing jobs to targeted minions', () => {
  const cluster = new Cluster(PILLAR, { auto_accept: true });
  const minions = new Map<string, Daemon>();

  beforeAll(async () => {
    await cluster.startMaster();
    for (const [id, grains] of Object.entries(FLEET)) minions.set(id, cluster.startMinion({ id, extra: { grains } }));
    await Promise.all([...minions.values()].map((m) => m.waitFor('minion ready')));
  });
  afterAll(() => cluster.close());

  const ping = async (target: string, ...flags: string[]) => {
    const r = await cluster.masterCmd('ping', target, '--json', '--timeout', '5', ...flags);
    return {
      code: r.exitCode,
      out: r.exitCode === 2 ? {} : (JSON.parse(String(r.stdout)) as Record<string, unknown>),
      stderr: String(r.stderr),
    };
  };

  it.each([
    ['*', [], ['cache9', 'db1', 'web1', 'web2']],
    ['web*', [], ['web1', 'web2']],
    ['db1,cache9', ['-L'], ['cache9', 'db1']],
    ['(web|db)[0-9]$', ['-E'], ['db1', 'web1', 'web2']],
    ['role:web', ['-G'], ['web1', 'web2']],
    ['dc:e*', ['-G'], ['db1', 'web1']],
    ['G@role:web and G@dc:west', ['-C'], ['web2']],
    ['G@dc:east or L@cache9', ['-C'], ['cache9', 'db1', 'web1']],
    ['not G@role:web and not E@db', ['-C'], ['cache9']],
    ['( web* or db* ) and not G@dc:west', ['-C'], ['db1', 'web1']],
    ['I@site:e2e and G@role:db', ['-C'], ['db1']],
    ['127.0.0.0/8', ['-S'], ['cache9', 'db1', 'web1', 'web2']],
  ])('%s %j reaches exactly %j', async (target, flags, expected) => {
    const r = await ping(target, ...flags);
    expect(r.code).toBe(0);
    expect(Object.keys(r.out)).toEqual(expected);
    expect(Object.values(r.out).every((v) => v === true)).toBe(true);
  });

  it('refuses a target that matches no minion, sending nothing (exit 2)', async () => {
    const r = await ping('nomatch*');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no accepted minion matches glob target "nomatch*"; no job was sent');
    const bad = await ping('G@role:web and', '-C');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('ends where a target was expected');
  });

  it('shows the grains minions reported', async () => {
    const r = await cluster.masterCmd('grains', 'G@role:db', '-C', '--json');
    const grains = JSON.parse(String(r.stdout)) as Record<string, Record<string, unknown>>;
    expect(Object.keys(grains)).toEqual(['db1']);
    expect(grains['db1']).toMatchObject({ id: 'db1', role: 'db', dc: 'east', kernel: 'Linux' });
    expect(Array.isArray(grains['db1']!['ipv4'])).toBe(true);
  });

  it('sends a job only to the targeted minion: another minion never sees it', async () => {
    const key = X25519Key.generate();
    writeKeyFile(join(cluster.dir, 'master-pki', 'minions', 'spy1'), key.publicKey, { secret: false });
    const spy = new RawClient(cluster.port, 'spy1', key);
    try {
      expect((await spy.handshake('daemon', { role: 'spy' })).header).toMatchObject({ status: 'accepted' });
      expect((await ping('db1')).out).toEqual({ db1: true });
      expect(await spy.next()).toBeUndefined();

      const pending = ping('spy1');
      const job = await spy.next();
      expect(job?.header).toMatchObject({ t: 'job', fun: 'test.ping' });
      const jid = (job!.header as { jid: string }).jid;
      // A minion can only return for its own jobs: a return for a job it never got is refused.
      const foreign = await spy.call(spy.request('job.return', { jid: '20200101000000000000', success: true, ret: true }));
      expect(foreign?.header).toMatchObject({ ok: false, error: { code: 'unknown_job' } });
      const ack = await spy.call(spy.request('job.return', { jid, success: true, ret: 'spy says hi' }));
      expect(ack?.header).toMatchObject({ ok: true });
      expect((await pending).out).toEqual({ spy1: 'spy says hi' });
    } finally {
      spy.close();
      await cluster.keys('delete', 'spy1');
    }
  });

  it('keeps one daemon session per minion: a restarted daemon replaces its old session, a CLI session does not', async () => {
    const key = X25519Key.generate();
    writeKeyFile(join(cluster.dir, 'master-pki', 'minions', 'twin1'), key.publicKey, { secret: false });
    const [before, after, cli] = [0, 1, 2].map(() => new RawClient(cluster.port, 'twin1', key));
    try {
      expect((await before!.handshake('daemon')).header).toMatchObject({ status: 'accepted' });
      expect((await after!.handshake('daemon')).header).toMatchObject({ status: 'accepted' });
      expect((await cli!.handshake('cli')).header).toMatchObject({ status: 'accepted' });
      // The old session is gone from the master: its next request is refused as unknown.
      await before!.sendRaw(before!.request('ping'));
      expect(await before!.receive()).toMatchObject({ type: FrameType.Refuse, code: RefuseCode.UnknownSession });
      expect((await after!.call(after!.request('ping')))?.header).toMatchObject({ ok: true });
      expect((await cli!.call(cli!.request('ping')))?.header).toMatchObject({ ok: true });
      // Jobs go to the live daemon session only.
      const pending = ping('twin1');
      expect((await after!.next())?.header).toMatchObject({ t: 'job', fun: 'test.ping' });
      expect(await cli!.next()).toBeUndefined();
      await pending;
    } finally {
      for (const c of [before, after, cli]) c!.close();
      await cluster.keys('delete', 'twin1');
    }
  });

  it('saves reported grains for offline targeting, rewriting the file only when they change', async () => {
    const key = X25519Key.generate();
    writeKeyFile(join(cluster.dir, 'master-pki', 'minions', 'rack1'), key.publicKey, { secret: false });
    const file = join(cluster.dir, 'master-cache', 'minions', 'rack1', 'grains.json');
    const saved = async (grains: Record<string, string>) => {
      const client = new RawClient(cluster.port, 'rack1', key);
      try {
        expect((await client.handshake('daemon', grains)).header).toMatchObject({ status: 'accepted' });
        // Written off the master's event loop once no other hello came for a second: wait for it, then for any write still to land.
        await vi.waitUntil(() => existsSync(file) && readFileSync(file, 'utf8') === JSON.stringify(grains), {
          timeout: 5000,
          interval: 50,
        });
        await sleep(300);
        return statSync(file).ino;
      } finally {
        client.close();
      }
    };
    try {
      const first = await saved({ rack: 'r1' });
      expect(await saved({ rack: 'r1' })).toBe(first);
      expect(await saved({ rack: 'r2' })).not.toBe(first);
      expect((await ping('rack:r2', '-G', '--timeout', '1')).out).toEqual({ rack1: 'Minion did not return. [No response]' });
    } finally {
      await cluster.keys('delete', 'rack1');
    }
  });

  it('reports a stopped minion as not returned within the timeout, exit 1', async () => {
    const started = Date.now();
    await minions.get('cache9')!.stop();
    const r = await cluster.masterCmd('ping', '*', '--timeout', '3');
    expect(r.exitCode).toBe(1);
    expect(String(r.stdout)).toContain('cache9:\n    Minion did not return. [No response]');
    expect(String(r.stdout)).toContain('db1:\n    True');
    expect(String(r.stderr)).toContain('1 of 4 minions did not return');
    expect(Date.now() - started).toBeLessThan(15_000);
    const json = await ping('*', '--timeout', '2');
    expect(json.out['cache9']).toBe('Minion did not return. [No response]');
  });

  it('keeps jobs and returns in the job cache', async () => {
    const list = await cluster.masterCmd('jobs', 'list', '--json');
    const jobs = JSON.parse(String(list.stdout)) as { jid: string; fun: string; minions: string[] }[];
    expect(jobs.length).toBeGreaterThan(5);
    const last = jobs[0]!;
    expect(last.jid).toMatch(/^\d{20}$/);
    const show = await cluster.masterCmd('jobs', 'show', last.jid, '--json');
    const { job, returns } = JSON.parse(String(show.stdout)) as { job: { minions: string[] }; returns: { minion: string }[] };
    expect(job.minions).toEqual(last.minions);
    expect(returns.map((r) => r.minion).sort()).toEqual(['db1', 'web1', 'web2']);
    expect((await cluster.masterCmd('jobs', 'show', '20000101000000000000')).exitCode).toBe(2);
  });

  it('refuses the control socket to other users', () => {
    const sock = join(cluster.dir, 'run', 'master.sock');
    // The master keeps its socket directory private; let another user through the tree to reach the socket's own mode.
    chmodSync(cluster.dir, 0o755);
    const r = spawnSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', join(BIN, 'master'), 'ping', '*', '-c', cluster.masterConfig],
      { encoding: 'utf8' },
    );
    // Not bad usage: the command is right, the caller may not reach the master (README, exit status).
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`master: permission denied on ${sock}: only the master's user may control it\n`);
    expect(statSync(sock).mode & 0o777).toBe(0o600);
    expect(statSync(join(cluster.dir, 'run')).mode & 0o777).toBe(0o700);
  });
});
