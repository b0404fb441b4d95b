import { join } from 'node:path';
import { writeKeyFile } from '@brine/common';
import { X25519Key, type Payload } from '@brine/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, ROOT } from '../support/cluster.js';
import { RawClient } from '../support/raw-client.js';

const PILLAR = join(ROOT, 'test', 'fixtures', 'pillar-grains');
const TOP = join(PILLAR, 'top.sls');
const SECRETS = ['db2-Pa55-never-for-web1', 'r0le-Pa55-chosen-by-grains', 'gr0up-Pa55-by-nodegroup'];
const NODEGROUPS = { dbs: ['db9'], webs: 'web* and not E@db' };
/** What a minion lying about itself reports: another minion's id and a role that selects secrets. */
const LIES = { id: 'db2', role: 'db' };
const WARNING =
  'pillar depends on grains the minions report, which they control: values marked !secret that these select are withheld; select them by minion id or nodegroup, or set pillar_trust_minion_grains: true';

/** A pre-accepted minion on the wire that reports whatever grains it is given. */
async function liar(cluster: Cluster, id: string): Promise<RawClient> {
  const key = X25519Key.generate();
  writeKeyFile(join(cluster.dir, 'master-pki', 'minions', id), key.publicKey, { secret: false });
  const client = new RawClient(cluster.port, id, key);
  expect((await client.handshake('cli', LIES)).header).toMatchObject({ status: 'accepted' });
  return client;
}

const rawText = (reply: Payload | undefined) => Buffer.from(reply!.body!).toString();

describe('grains a minion reports, with pillar_trust_minion_grains off (the default)', () => {
  const cluster = new Cluster(PILLAR, { auto_accept: true, nodegroups: NODEGROUPS });

  beforeAll(async () => {
    await cluster.startMaster();
    // A real minion whose config claims another minion's id as a grain.
    await cluster.startMinion({ id: 'web1', extra: { grains: LIES } }).waitFor('minion ready');
  });
  afterAll(() => cluster.close());

  it('warns at start, naming the top entry that matches on grains', () => {
    const warning = cluster.master!.lines().find((l) => l['msg'] === WARNING);
    expect(warning?.['files']).toEqual([`${TOP}:6: target 'role:db' (match: grain) matches grains the minion reports`]);
  });

  it("gives a minion reporting grains id: db2 its own pillar, never db2's, and audits whom it was rendered for", async () => {
    const who = await cluster.pillar('web1', ['get', 'who']);
    expect(who.exitCode).toBe(0);
    expect(who.stdout).toBe('web1');
    const items = await cluster.pillar('web1', ['items', '--json']);
    expect(JSON.parse(String(items.stdout))).toEqual({ who: 'web1', luks: { vg_name: 'vg_web1' }, role_vg: 'vg_role' });
    const record = await cluster.waitForAudit(
      (r) => r['event'] === 'pillar_delivered' && r['minion'] === 'web1' && r['op'] === 'pillar.items',
    );
    expect(record['rendered_for']).toBe('web1');
  });

  it('withholds a !secret that a grain match selected, with an error naming the file, and audits the refusal', async () => {
    const client = await liar(cluster, 'db9');
    try {
      const refused = await client.call(client.request('pillar.get', { path: 'role_password', raw: true }));
      expect(refused?.header).toMatchObject({
        ok: false,
        error: { code: 'secret_untrusted_grains', message: expect.stringContaining(join(PILLAR, 'role_db.sls')) },
      });
      // Non-secret values of the same file still follow the grains, as in Salt.
      const vg = await client.call(client.request('pillar.get', { path: 'role_vg' }));
      expect(vg?.header).toMatchObject({ ok: true, value: 'vg_role' });
      // Nor does the id grain reach db2's pillar.
      const db2 = await client.call(client.request('pillar.get', { path: 'luks:password', raw: true }));
      expect(db2?.header).toMatchObject({ ok: false, error: { code: 'not_found' } });
      // A nodegroup of ids is the safe way to give a group a secret.
      const byGroup = await client.call(client.request('pillar.get', { path: 'group_password', raw: true }));
      expect(byGroup?.header).toMatchObject({ ok: true, raw: true });
      expect(rawText(byGroup)).toBe(SECRETS[2]);
    } finally {
      client.close();
    }
    const withheld = await cluster.waitForAudit((r) => r['event'] === 'pillar_withheld');
    expect(withheld).toMatchObject({
      minion: 'db9',
      rendered_for: 'db9',
      path: 'role_password',
      reason: expect.stringContaining(`${TOP}:6`),
    });
    const delivered = await cluster.waitForAudit((r) => r['event'] === 'pillar_delivered' && r['path'] === 'group_password');
    expect(delivered).toMatchObject({ minion: 'db9', rendered_for: 'db9', secret: true });
  });

  it('targets minions by nodegroup (-N), and names an unknown one', async () => {
    const r = await cluster.masterCmd('ping', 'webs', '-N', '--json', '--timeout', '5');
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(String(r.stdout))).toEqual({ web1: true });
    const unknown = await cluster.masterCmd('ping', 'nope', '-N', '--timeout', '5');
    expect(unknown.exitCode).toBe(2);
    expect(String(unknown.stderr)).toContain("unknown nodegroup 'nope' (defined: dbs, webs)");
  });

  it('never writes a secret to a log', () => {
    const logs = [
      cluster.master!.output,
      ...cluster.daemons.map((d) => d.output),
      ...cluster.cliStderr,
      JSON.stringify(cluster.audit()),
    ].join('\n');
    for (const secret of SECRETS) expect(logs).not.toContain(secret);
  });
});

describe('grains a minion reports, with pillar_trust_minion_grains: true', () => {
  const cluster = new Cluster(PILLAR, { nodegroups: NODEGROUPS, pillar_trust_minion_grains: true });

  beforeAll(() => cluster.startMaster());
  afterAll(() => cluster.close());

  it('serves a !secret a grain match selected, without a warning, but still never from another id', async () => {
    expect(cluster.master!.count(WARNING)).toBe(0);
    const client = await liar(cluster, 'db9');
    try {
      const trusted = await client.call(client.request('pillar.get', { path: 'role_password', raw: true }));
      expect(trusted?.header).toMatchObject({ ok: true, raw: true });
      expect(rawText(trusted)).toBe(SECRETS[1]);
      const db2 = await client.call(client.request('pillar.get', { path: 'luks:password', raw: true }));
      expect(db2?.header).toMatchObject({ ok: false, error: { code: 'not_found' } });
    } finally {
      client.close();
    }
  });
});
