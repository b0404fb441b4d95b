import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../support/cluster.js';
import { PILLAR, SECRETS } from './support.js';

/**
 * kill -9 of a minion in the middle of a state run, and a minion whose state
 * prints a secret it found on disk: the master keeps serving, the job says who
 * did not return, and no secret reaches any file or log of either side.
 */
describe('adversary: crashes and leaks', () => {
  const cluster = new Cluster(PILLAR, { auto_accept: true });

  beforeAll(async () => {
    await cluster.startMaster();
  });
  afterAll(() => cluster.close());

  it('survives kill -9 of a minion during apply; the job names it as not returned and it comes back', async () => {
    const victim = cluster.startMinion({ id: 'web1', extra: { grains: { nap: '30' } } });
    await victim.waitFor('minion ready');
    const apply = cluster.masterCmd('apply', 'web1', 'nap', '--timeout', '6', '--json');
    await victim.waitFor('job received', { timeoutMs: 10_000 }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1000));
    victim.child.kill('SIGKILL');
    const result = await apply;
    expect(result.exitCode).toBe(1);
    expect(JSON.parse(String(result.stdout))).toEqual({ web1: 'Minion did not return. [No response]' });
    // The minion starts again and the master serves it as before.
    const again = cluster.startMinion({ id: 'web1', extra: { grains: { nap: '0' } } });
    await again.waitFor('minion ready');
    const ping = await cluster.masterCmd('ping', 'web1', '--json');
    expect(JSON.parse(String(ping.stdout))).toEqual({ web1: true });
    await again.stop();
  });

  it('keeps every secret out of logs, returns, job files and the minion cache, even one a state prints', async () => {
    const out = join(cluster.dir, 'leak-out');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'copied-secret'), `${SECRETS[1]}\n`);
    const minion = cluster.startMinion({ id: 'web1', extra: { grains: { out_dir: out } } });
    await minion.waitFor('minion ready');
    const applied = await cluster.masterCmd('apply', 'web1', 'leak', '--json');
    expect(applied.exitCode).toBe(0);
    expect(String(applied.stdout)).not.toContain(SECRETS[1]);
    const fetched = await cluster.pillar('web1', ['get', 'luks:password']);
    expect(String(fetched.stdout)).toBe(SECRETS[1]);
    // Every file the cluster wrote (keys, audit, job cache, minion caches, configs), but the planted one.
    const grep = spawnSync('grep', ['-rl', '--exclude-dir=leak-out', ...SECRETS.flatMap((x) => ['-e', x]), cluster.dir], {
      encoding: 'utf8',
    });
    expect(grep.status, grep.stderr).toBe(1);
    expect(grep.stdout).toBe('');
    // And every log line the daemons and commands printed.
    const logs = [...cluster.daemons.map((d) => d.output), ...cluster.cliStderr].join('\n');
    for (const secret of SECRETS) expect(logs).not.toContain(secret);
  });
});
