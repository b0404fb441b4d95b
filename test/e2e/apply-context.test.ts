import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, ROOT } from '../support/cluster.js';

const PILLAR = join(ROOT, 'test', 'fixtures', 'pillar');

/** A state tree the test edits between runs. */
const states = mkdtempSync(join(tmpdir(), 'brine-e2e-states-'));
const note = (version: string) =>
  `note:\n  file.managed:\n    - name: {{ grains['out_dir'] }}/{{ grains['id'] }}.note\n    - contents: "${version} site {{ pillar['site'] }}"\n`;

/** What a template can read of a pillar whose passphrase is marked !secret (fixtures/pillar/vault.sls). */
const PROBE = `probe:
  file.managed:
    - name: {{ grains['out_dir'] }}/{{ grains['id'] }}.probe
    - contents: "vg {{ pillar['luks']['vg_name'] }}, password {{ salt['pillar.get']('luks:password', 'not sent') }}"
fetched:
  file.managed:
    - name: {{ grains['out_dir'] }}/{{ grains['id'] }}.fetched
    - contents_pillar: luks:password
`;

describe('master apply: what a pushed state.apply brings along', () => {
  const cluster = new Cluster(PILLAR, { auto_accept: true }, states);
  const out = join(cluster.dir, 'out');
  const requestsOf = (minion: string, op: string) => cluster.audit().filter((r) => r['minion'] === minion && r['op'] === op).length;

  beforeAll(async () => {
    mkdirSync(out);
    writeFileSync(join(states, 'note.sls'), note('v1'));
    await cluster.startMaster();
    writeFileSync(join(states, 'probe.sls'), PROBE);
    const minions = ['db1', 'broken1', 'vault2'].map((id) => cluster.startMinion({ id, extra: { grains: { out_dir: out } } }));
    await Promise.all(minions.map((m) => m.waitFor('minion ready')));
  });
  afterAll(async () => {
    await cluster.close();
    rmSync(states, { recursive: true, force: true });
  });

  it('runs on the pillar the job carries, and follows an edited state tree', async () => {
    expect((await cluster.masterCmd('apply', 'db1', 'note')).exitCode).toBe(0);
    expect(readFileSync(join(out, 'db1.note'), 'utf8')).toBe('v1 site e2e\n');
    writeFileSync(join(states, 'note.sls'), note('v2'));
    expect((await cluster.masterCmd('apply', 'db1', 'note')).exitCode).toBe(0);
    expect(readFileSync(join(out, 'db1.note'), 'utf8')).toBe('v2 site e2e\n');
    const again = await cluster.masterCmd('apply', 'db1', 'note', '--json');
    expect(Object.values(JSON.parse(String(again.stdout))['db1'] as Record<string, { changes: object }>)[0]!.changes).toEqual({});
    // Each job delivered the pillar itself (audited as such); the minion never had to ask for it.
    await expect.poll(() => requestsOf('db1', 'state.apply')).toBe(3);
    expect(requestsOf('db1', 'pillar.items')).toBe(0);
    expect(cluster.audit()).toContainEqual(
      expect.objectContaining({ event: 'pillar_delivered', minion: 'db1', op: 'state.apply', path: '*', peer: '127.0.0.1' }),
    );
  });

  it('leaves a value marked !secret out of the pillar the job carries; a state fetches it by name', async () => {
    const r = await cluster.masterCmd('apply', 'vault2', 'probe', '--json');
    expect(r.exitCode).toBe(0);
    expect(readFileSync(join(out, 'vault2.probe'), 'utf8')).toBe('vg vg_vault, password not sent\n');
    expect(readFileSync(join(out, 'vault2.fetched'), 'utf8')).toBe('VAULT-SECRET-5d9e21\n');
    expect(String(r.stdout)).not.toContain('VAULT-SECRET');
    expect(cluster.audit()).toContainEqual(
      expect.objectContaining({ event: 'pillar_delivered', minion: 'vault2', op: 'pillar.get', path: 'luks:password' }),
    );
  });

  it('still reports a pillar that fails to render, naming the file', async () => {
    const r = await cluster.masterCmd('apply', 'broken1', 'note');
    expect(r.exitCode).toBe(1);
    expect(String(r.stdout)).toMatch(/pillar for broken1 failed to render:[\s\S]*broken\.sls/);
    expect(cluster.audit()).toContainEqual(expect.objectContaining({ event: 'pillar_render_failed', minion: 'broken1' }));
    expect(requestsOf('broken1', 'state.apply')).toBe(0);
  });
});
