import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, ROOT } from '../support/cluster.js';

/** The example tree of the README's walkthrough, as shipped: `pillar/` and `states/`. */
const PILLAR = join(ROOT, 'pillar');
const STATES = join(ROOT, 'states');
const PASSPHRASE = /password: !secret (\S+)/.exec(readFileSync(join(PILLAR, 'minions', 'db1.sls'), 'utf8'))![1]!;

/** The `ID:` and `Name:` lines of a highstate printout. */
const labels = (out: string, label: 'ID' | 'Name') => [...out.matchAll(new RegExp(`^\\s+${label}: (.*)$`, 'gm'))].map((m) => m[1]!);

describe('the README walkthrough: master apply db1 highstate --test', () => {
  const cluster = new Cluster(PILLAR, { auto_accept: true }, STATES);

  beforeAll(async () => {
    await cluster.startMaster();
    await cluster.startMinion({ id: 'db1' }).waitFor('minion ready');
  });
  afterAll(() => cluster.close());

  it('names every state by its real ID and name (pillar values that are not secrets are shown), and never the passphrase', async () => {
    const r = await cluster.masterCmd('apply', 'db1', 'highstate', '--test');
    const out = String(r.stdout);
    expect(labels(out, 'ID')).toEqual([
      'data-pv',
      'data-vg',
      'data-lv',
      'data-crypt',
      'data-fs',
      'data-mount',
      'redis-data-dir',
      'redis-unit-dropin',
      'systemd-reload',
      'redis',
    ]);
    expect(labels(out, 'Name')).toEqual([
      '/dev/vdb',
      'vg_data',
      'data',
      'data_crypt',
      '/dev/mapper/data_crypt',
      '/srv/data',
      '/srv/data/redis',
      '/etc/systemd/system/redis-server.service.d/brine.conf',
      'systemctl daemon-reload',
      'redis-server',
    ]);
    expect(out).not.toContain('<redacted>');
    const json = await cluster.masterCmd('apply', 'db1', 'highstate', '--test', '--json');
    for (const text of [
      out,
      String(r.stderr),
      String(json.stdout),
      String(json.stderr),
      ...cluster.cliStderr,
      ...cluster.daemons.map((d) => d.output),
    ])
      expect(text).not.toContain(PASSPHRASE);
    expect(Object.keys(JSON.parse(String(json.stdout)).db1)).toContain('lvm_|-data-pv_|-/dev/vdb_|-pv_present');
  });
});
