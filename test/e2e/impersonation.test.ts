import { join } from 'node:path';
import { readKeyFile } from '@brine/common';
import { FrameType, RefuseCode, X25519Key } from '@brine/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, ROOT } from '../support/cluster.js';
import { RawClient, stolenMasterKeyIdentity } from '../support/raw-client.js';

const PILLAR = join(ROOT, 'test', 'fixtures', 'pillar');

describe('impersonating a minion with the master keys', () => {
  const cluster = new Cluster(PILLAR, { auto_accept: true });
  const clients: RawClient[] = [];

  beforeAll(async () => {
    await cluster.startMaster();
    await cluster.startMinion({ id: 'web1' }).waitFor('minion ready');
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await cluster.close();
  });

  const opened = () => cluster.audit().filter((r) => r['event'] === 'session_opened' && r['minion'] === 'web1').length;
  const ping = async () =>
    JSON.parse(String((await cluster.masterCmd('ping', 'web1', '--json', '--timeout', '5')).stdout)) as Record<string, unknown>;

  it('gets no session for an accepted minion with master.box.key and master.sign.key copied from disk', async () => {
    const pki = join(cluster.dir, 'master-pki');
    const stolenBox = X25519Key.fromSecret(readKeyFile(join(pki, 'master.box.key'), 32, { secret: true }));
    readKeyFile(join(pki, 'master.sign.key'), 64, { secret: true }); // also stolen; the real master's prekeys are not in it
    const victim = readKeyFile(join(cluster.dir, 'minion-pki-web1', 'minion.pub'), 32, { secret: false });
    const before = opened();
    const thief = new RawClient(cluster.port, 'web1', stolenMasterKeyIdentity('web1', victim, stolenBox));
    clients.push(thief);

    const outcome = await thief.handshake('daemon').then(
      (p) => `got ${JSON.stringify(p.header)}`,
      (err: Error) => err.message,
    );
    expect(outcome).toContain(`"type":${FrameType.Refuse},"code":${RefuseCode.AuthFailed}`);
    expect(thief.session).toBeUndefined();
    await cluster.waitForAudit((r) => r['event'] === 'refused_tampered' && r['reason'] === 'message authentication failed');
    expect(opened()).toBe(before);
    // The real minion keeps its daemon session: jobs still reach it, not the thief.
    expect(await ping()).toEqual({ web1: true });
  });

  it('tells a version-1 peer in a REFUSE it can read that the master speaks version 2', async () => {
    const old = new RawClient(cluster.port, 'old1');
    clients.push(old);
    const v1Hello = new Uint8Array(34);
    v1Hello.set([0xb1, 0x11]);
    await old.sendRaw(v1Hello);
    const refuse = await old.receive();
    expect(refuse).toMatchObject({ type: FrameType.Refuse, code: RefuseCode.BadFrame });
    expect(refuse?.type === FrameType.Refuse && refuse.reason).toContain('protocol version 1 is not supported; this side speaks version 2');
    await cluster.waitForAudit((r) => r['event'] === 'refused_bad_frame' && String(r['reason']).includes('protocol version 1'));
  });
});
