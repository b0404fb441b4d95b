import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { BIN, Cluster, ROOT, type Daemon } from '../support/cluster.js';

// A group and two system users of this run's own, removed afterwards.
const GROUP = `brine-test-${process.pid}`;
const MEMBER = `brine-op-${process.pid}`;
const OUTSIDER = `brine-out-${process.pid}`;

/** Runs a master CLI command as another user, with that user's groups. */
const as = (user: string, ...args: string[]) =>
  spawnSync('runuser', ['-u', user, '--', join(BIN, 'master'), ...args], { encoding: 'utf8', timeout: 30_000 });

describe('operators in sock_group', () => {
  const cluster = new Cluster(join(ROOT, 'test', 'fixtures', 'pillar'), { sock_group: GROUP });
  let minion: Daemon;

  beforeAll(async () => {
    execFileSync('groupadd', ['--system', GROUP]);
    execFileSync('useradd', ['--system', '--no-create-home', '-G', GROUP, MEMBER]);
    execFileSync('useradd', ['--system', '--no-create-home', OUTSIDER]);
    // Let other users through the test's own directory to the master's socket and key directories, whose modes are what is tested.
    chmodSync(cluster.dir, 0o755);
    await cluster.startMaster();
    minion = cluster.startMinion({ id: 'db1' });
  });
  afterAll(async () => {
    await cluster.close();
    for (const user of [MEMBER, OUTSIDER]) spawnSync('userdel', [user]);
    spawnSync('groupdel', [GROUP]);
  });

  const sock = () => join(cluster.dir, 'run', 'master.sock');
  const pki = () => join(cluster.dir, 'master-pki');

  it('gives the socket and the key directories to the group, never the secret keys', () => {
    const gid = Number(execFileSync('getent', ['group', GROUP], { encoding: 'utf8' }).split(':')[2]);
    const of = (path: string) => [statSync(path).mode & 0o7777, statSync(path).gid];
    expect(of(sock())).toEqual([0o660, gid]);
    expect(of(join(cluster.dir, 'run'))).toEqual([0o750, gid]);
    expect(of(pki())).toEqual([0o750, gid]);
    for (const dir of ['minions', 'minions_pre', 'minions_rejected', 'minions_denied']) expect(of(join(pki(), dir))).toEqual([0o770, gid]);
    for (const key of ['master.sign.key', 'master.box.key']) expect(statSync(join(pki(), key)).mode & 0o777).toBe(0o600);
  });

  it('a member manages keys without reading the secret keys', async () => {
    for (const key of ['master.sign.key', 'master.box.key']) {
      const r = spawnSync('runuser', ['-u', MEMBER, '--', 'cat', join(pki(), key)], { encoding: 'utf8' });
      expect(r.status, key).not.toBe(0);
      expect(r.stderr).toContain('Permission denied');
    }
    const deadline = Date.now() + 20_000;
    while (!(await cluster.keyList()).pending.includes('db1')) {
      if (Date.now() > deadline) throw new Error('db1 never became pending');
      await new Promise((r) => setTimeout(r, 100));
    }
    const list = as(MEMBER, 'keys', 'list', '--json', '-c', cluster.masterConfig);
    expect(list.stderr).toBe('');
    expect(JSON.parse(list.stdout)).toMatchObject({ pending: ['db1'], accepted: [] });
    const accept = as(MEMBER, 'keys', 'accept', 'db1', '-c', cluster.masterConfig);
    expect(accept.stderr).toBe('');
    expect(accept.status).toBe(0);
    expect(accept.stdout).toMatch(/^accepted db1 \(/);
    expect((await cluster.keyList()).accepted).toEqual(['db1']);
    // The member cannot append to the audit log; the running master records the action for it.
    const record = await cluster.waitForAudit((r) => r['event'] === 'key_accepted' && r['minion'] === 'db1');
    expect(record).toMatchObject({ user: MEMBER, via: 'control_socket', reason: 'pending -> accepted' });
    expect(as(MEMBER, 'keys', 'fingerprint', '-c', cluster.masterConfig).stdout).toMatch(/^master: /);
    await minion.waitFor('minion ready');
  });

  it('a member controls the master through the socket', async () => {
    const ping = as(MEMBER, 'ping', 'db1', '--json', '--timeout', '5', '-c', cluster.masterConfig);
    expect(ping.stderr).toBe('');
    expect(JSON.parse(ping.stdout)).toEqual({ db1: true });
    const jobs = as(MEMBER, 'jobs', 'list', '--json', '-c', cluster.masterConfig);
    expect(jobs.status).toBe(0);
    expect((JSON.parse(jobs.stdout) as { fun: string }[]).some((j) => j.fun === 'test.ping')).toBe(true);
    const status = as(MEMBER, 'status', '--json', '-c', cluster.masterConfig);
    expect([status.status, status.stderr]).toEqual([0, '']);
    expect(JSON.parse(status.stdout)).toEqual({
      master: expect.objectContaining({ connections: 1, sessions: 1 }),
      minions: [expect.objectContaining({ id: 'db1', connected: true, address: '127.0.0.1' })],
    });
  });

  it('a user outside the group gets permission denied, for commands and keys', () => {
    const ping = as(OUTSIDER, 'ping', 'db1', '-c', cluster.masterConfig);
    // Exit 1: the master refused (README's exit status); 2 is bad usage.
    expect(ping.status).toBe(1);
    expect(ping.stderr).toBe(
      `master: permission denied on ${sock()}: only the master's user and members of group ${GROUP} (sock_group) may control it\n`,
    );
    const status = as(OUTSIDER, 'status', '-c', cluster.masterConfig);
    expect([status.status, status.stderr]).toEqual([1, ping.stderr]);
    const keys = as(OUTSIDER, 'keys', 'list', '-c', cluster.masterConfig);
    expect(keys.status).toBe(1);
    expect(keys.stderr).toBe(
      `master: permission denied on ${pki()}: only the master's user and members of its sock_group may manage keys\n`,
    );
  });
});

describe('a sock_group that does not exist', () => {
  const cluster = new Cluster(join(ROOT, 'test', 'fixtures', 'pillar'));
  afterAll(() => cluster.close());

  it('stops the master at start (exit 2), naming the group and both fixes, before it writes anything', async () => {
    const missing = `no-such-group-${process.pid}`;
    const pki = join(cluster.dir, 'master-pki');
    const config = join(cluster.dir, 'master.yml');
    writeFileSync(
      config,
      stringify({
        interface: '127.0.0.1',
        port: 1,
        pki_dir: pki,
        sock_dir: join(cluster.dir, 'run'),
        cachedir: join(cluster.dir, 'cache'),
        audit_log: join(cluster.dir, 'audit.jsonl'),
        sock_group: missing,
      }),
    );
    const r = await cluster.run('master', ['-c', config]);
    expect(r.exitCode).toBe(2);
    expect(String(r.stderr)).toContain(
      `sock_group '${missing}' (${config}): no such group; create it (groupadd --system ${missing}) and add the operators to it, or set sock_group: ''`,
    );
    expect(existsSync(pki)).toBe(false);
  });
});
