import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, ROOT, type Daemon } from '../support/cluster.js';

const PILLAR = join(ROOT, 'test', 'fixtures', 'pillar');
const SECRET = 'DB1-SECRET-7f3a9c';

interface JobRecord {
  jid: string;
  fun: string;
  args: { mods: string[]; test: boolean };
  minions: string[];
}

/** The job id `minion apply` reports on stderr. */
const jidOf = (stderr: unknown): string => /running as job (\d{20})/.exec(String(stderr))?.[1] ?? '';

/** Sends raw bytes to a control socket and collects the answer until the daemon closes the connection. */
function raw(path: string, data: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let answer = '';
    socket.on('data', (d) => (answer += d.toString()));
    socket.on('error', reject);
    socket.on('close', () => resolve(answer));
    socket.write(data);
  });
}

describe('minion apply through the running daemon', () => {
  const cluster = new Cluster(PILLAR, { auto_accept: true });
  const out = join(cluster.dir, 'out');
  let db1: Daemon;
  const apply = (...args: string[]) => cluster.run('minion', ['apply', ...args, '-c', cluster.minionConfig('db1')]);
  const jobs = async (): Promise<JobRecord[]> =>
    JSON.parse(String((await cluster.masterCmd('jobs', 'list', '--json')).stdout)) as JobRecord[];

  beforeAll(async () => {
    mkdirSync(out);
    await cluster.startMaster();
    db1 = cluster.startMinion({ id: 'db1', extra: { grains: { out_dir: out } } });
    await db1.waitFor('minion ready');
  });
  afterAll(() => cluster.close());

  it('keeps its control socket to root: 0600 in a 0700 directory', () => {
    const dir = cluster.minionSockDir('db1');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'minion.sock')).mode & 0o777).toBe(0o600);
  });

  it('--test reports what would change and changes nothing', async () => {
    const r = await apply('hello', '--test', '--json');
    expect(r.exitCode).toBe(0);
    const states = JSON.parse(String(r.stdout)) as Record<string, { result: boolean | null }>;
    expect(Object.values(states).map((s) => s.result)).toContain(null);
    expect(existsSync(join(out, 'db1.txt'))).toBe(false);
    const job = (await jobs()).find((j) => j.jid === jidOf(r.stderr));
    expect(job?.args).toEqual({ mods: ['hello'], test: true });
  });

  it('runs states and pillar from the master as a job in its job cache, printed as master apply prints it', async () => {
    const r = await apply('hello');
    expect(r.exitCode).toBe(0);
    expect(String(r.stdout)).toContain('Summary for db1');
    expect(String(r.stdout)).toMatch(/Succeeded: 2 \(changed=2\)/);
    expect(readFileSync(join(out, 'db1.txt'), 'utf8')).toBe('hello from db1, site e2e\n');
    const jid = jidOf(r.stderr);
    expect(jid).toMatch(/^\d{20}$/);
    expect((await jobs()).find((j) => j.jid === jid)).toMatchObject({
      fun: 'state.apply',
      args: { mods: ['hello'], test: false },
      minions: ['db1'],
    });
    const shown = await cluster.masterCmd('jobs', 'show', jid, '--json');
    expect(JSON.parse(String(shown.stdout)).returns).toEqual([expect.objectContaining({ minion: 'db1', success: true })]);
    // The secret was fetched and used by the daemon: never printed, never on the socket.
    expect(String(r.stdout)).toContain('<redacted>');
    expect(`${String(r.stdout)}${String(r.stderr)}${db1.output}`).not.toContain(SECRET);
  });

  it('exits 1 when a state fails, with the failure printed', async () => {
    const r = await apply('broken');
    expect(r.exitCode).toBe(1);
    expect(String(r.stdout)).toContain('Command "echo about to fail && exit 3" run');
    expect(String(r.stdout)).toMatch(/Failed:\s+2/);
  });

  it('never overlaps another state run: concurrent runs, its own or pushed by the master, wait in line', async () => {
    // A pushed job holds the runner first, so every run below arrives while one is in progress.
    const slow = cluster.masterCmd('apply', 'db1', 'slow');
    await db1.waitFor('job received', { times: db1.count('job received') + 1 });
    const results = await Promise.all([apply('exclusive'), apply('exclusive'), cluster.masterCmd('apply', 'db1', 'exclusive'), slow]);
    // exclusive.sls fails when its lock directory exists: a run that overlapped another would exit 1.
    expect(results.map((r) => r.exitCode)).toEqual([0, 0, 0, 0]);
    expect(readFileSync(join(out, 'db1.runs'), 'utf8').trim().split('\n')).toHaveLength(3);
    for (const r of results.slice(0, 2))
      expect(String(r.stderr)).toMatch(/minion apply: waiting for (job \d{20} \(state\.apply\)|a job that is starting) to finish/);
  });

  it('with --wait 0, refuses while another state run holds the minion, and runs nothing', async () => {
    // Counted before the push, so that nothing but the refused run happens while the slow job holds the minion.
    const before = (await jobs()).length;
    const pushed = cluster.masterCmd('apply', 'db1', 'slow');
    await db1.waitFor('job received', { times: db1.count('job received') + 1 });
    const r = await apply('exclusive', '--wait', '0');
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toMatch(/another state run holds this minion: job \d{20} \(state\.apply\); nothing ran/);
    expect((await jobs()).length).toBe(before + 1);
    expect((await pushed).exitCode).toBe(0);
  });

  it('answers malformed requests with an error and keeps serving', async () => {
    const path = join(cluster.minionSockDir('db1'), 'minion.sock');
    const error = (answer: string) => JSON.parse(answer.trim()) as { type: string; code: string; message: string };
    expect(error(await raw(path, 'not json\n'))).toEqual({ type: 'error', code: 'bad_request', message: 'request is not JSON' });
    expect(error(await raw(path, Buffer.alloc(64 * 1024, 'x'))).message).toBe('request too large (over 16384 bytes)');
    expect(error(await raw(path, '{"cmd":"rm -rf","operator":{"user":"root","uid":0}}\n')).message).toBe('unknown command "rm -rf"');
    const wire = { cmd: 'apply', mods: ['../etc'], test: false, wait: 1, operator: { user: 'root', uid: 0 } };
    expect(error(await raw(path, `${JSON.stringify(wire)}\n`)).code).toBe('sls_name_invalid');
    // One request per connection: a second line is ignored, not run.
    const first = { ...wire, mods: ['hello'], test: true };
    const answer = await raw(path, `${JSON.stringify(first)}\n${JSON.stringify({ ...first, test: false })}\n`);
    expect(
      answer
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { type: string }).type),
    ).toEqual(['started', 'done']);
    expect(db1.child.exitCode).toBeNull();
    expect((await apply('hello', '--test')).exitCode).toBe(0);
  });

  it('says the daemon is not running, and how to start it or run --local, with exit 1', async () => {
    const config = cluster.writeMinionConfig({ id: 'ghost' });
    const r = await cluster.run('minion', ['apply', 'hello', '-c', config]);
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toContain(
      `the minion is not running (no control socket at ${join(cluster.minionSockDir('ghost'), 'minion.sock')})`,
    );
    expect(String(r.stderr)).toContain('systemctl start brine-minion');
    expect(String(r.stderr)).toContain('minion apply --local hello');
  });

  it('exits 2 for bad usage', async () => {
    for (const args of [['bad name!'], ['hello', '--wait', 'soon'], ['hello', '--file-root', out], [',']]) {
      const r = await apply(...args);
      expect(r.exitCode, args.join(' ')).toBe(2);
      expect(String(r.stderr)).toMatch(/^minion apply: /);
    }
  });
});

describe('startup states an operator fixes from the console', () => {
  const cluster = new Cluster(PILLAR, { auto_accept: true });
  const out = join(cluster.dir, 'out');
  afterAll(() => cluster.close());

  it('end their retries when the operator runs them and they succeed', async () => {
    mkdirSync(out);
    await cluster.startMaster();
    const web1 = cluster.startMinion({
      id: 'web1',
      extra: { grains: { out_dir: out }, startup_states: 'sls', sls_list: ['gate'], startup_retry_max: 60 },
    });
    // Four failures: the next attempt is 4 to 8 s away, far enough for the operator to come first.
    const failed = await web1.waitFor('startup states failed; running them again later', { times: 4, timeoutMs: 30_000 });
    const retryAt = Date.now() + Number(failed['retry_ms']);
    writeFileSync(join(out, 'gate'), '');
    const r = await cluster.run('minion', ['apply', 'gate', '-c', cluster.minionConfig('web1')]);
    expect(r.exitCode).toBe(0);
    expect(Date.now()).toBeLessThan(retryAt);
    const done = await web1.waitFor('startup states succeeded', { timeoutMs: 2_000 });
    expect(done).toMatchObject({ jid: jidOf(r.stderr), by: 'minion apply' });
    // Past the attempt that was due: none ran, the daemon is done with its startup states.
    await new Promise((resolve) => setTimeout(resolve, retryAt - Date.now() + 1_000));
    expect(web1.count('startup states failed; running them again later')).toBe(4);
    const jobs = JSON.parse(String((await cluster.masterCmd('jobs', 'list', '--json')).stdout)) as JobRecord[];
    expect(jobs.filter((j) => j.minions.includes('web1'))).toHaveLength(5);
    expect(web1.child.exitCode).toBeNull();
  });
});
