import { randomBytes } from 'node:crypto';
import * as zmq from 'zeromq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The master runs with its systemd unit's environment (jemalloc and malloc settings), as in production.
import { masterUnitEnvironment } from '../../bench/lib/brine-master.mjs';
import { installMissingPackages } from '../vm/provision.mjs';
import { attackCluster, authenticated, rssMiB, sleep } from './support.js';

// Thousands of sockets in this process, and closed ones are reaped asynchronously: lift libzmq's
// per-context limit (1,023), or a flood right after another fails with "Too many open file descriptors".
zmq.context.maxSockets = 65_536;

/** Goal of issue 12: at most this much resident memory left after any flood. */
const RETAINED_MIB = 20;

/** A connection as a minion makes it (routing id = PLAIN user name), from the attacker's address. */
function connection(port: number): zmq.Dealer {
  const id = randomBytes(16).toString('hex');
  const s = new zmq.Dealer({ routingId: id, plainUsername: id, plainPassword: 'x', linger: 0, reconnectInterval: -1 });
  s.connect(`tcp://127.0.0.2:0;127.0.0.1:${port}`);
  return s;
}

/** A HELLO frame (version 2, type 1) with a random ephemeral key. */
const hello = () => Buffer.concat([Buffer.from([0xb1, 0x21]), randomBytes(32)]);

/** Each flood, then the master's resident memory once it has settled, against the goal. */
describe('master memory after floods', () => {
  const cluster = attackCluster();
  let base = 0;
  const grownAfter = async (what: string) => {
    await sleep(2500);
    const grown = rssMiB(cluster.master!.child.pid!) - base;
    console.log(`${what}: ${grown.toFixed(1)} MiB retained (goal ≤ ${RETAINED_MIB})`);
    return grown;
  };

  beforeAll(async () => {
    installMissingPackages(['libjemalloc2']);
    cluster.masterEnv = masterUnitEnvironment() as NodeJS.ProcessEnv;
    await cluster.startMaster();
    // Warm-up: code compiled and first buffers allocated, so what follows measures what floods leave.
    const { client } = await authenticated(cluster, 'web1');
    for (let i = 0; i < 20; i++) await client.call('pillar.get', { path: 'site' });
    client.close();
    await sleep(2500);
    base = rssMiB(cluster.master!.child.pid!);
    // A first run on a fresh machine installs libjemalloc2 (apt-get update included).
  }, 300_000);
  afterAll(() => cluster.close());

  it('keeps at most 20 MiB after 30,000 garbage frames', async () => {
    const s = connection(cluster.port);
    for (let i = 0; i < 30_000; i++) await s.send(randomBytes(64 + (i % 512)));
    await sleep(200);
    s.close();
    expect(await grownAfter('30,000 garbage frames')).toBeLessThanOrEqual(RETAINED_MIB);
  });

  it('keeps at most 20 MiB once 1,000 half-finished handshakes are gone', async () => {
    const held: zmq.Dealer[] = [];
    for (let i = 0; i < 1000; i++) {
      const s = connection(cluster.port);
      await s.send(hello());
      held.push(s);
    }
    await sleep(1500);
    for (const s of held) s.close();
    expect(await grownAfter('1,000 half-finished handshakes, closed')).toBeLessThanOrEqual(RETAINED_MIB);
  });

  it('keeps at most 20 MiB after 5,000 connections under new PLAIN names', async () => {
    for (let done = 0; done < 5000; done += 500) {
      const batch = Array.from({ length: 500 }, () => connection(cluster.port));
      await Promise.all(batch.map((s) => s.send(hello())));
      await sleep(50);
      for (const s of batch) s.close();
    }
    expect(await grownAfter('5,000 connections under new names')).toBeLessThanOrEqual(RETAINED_MIB);
  });
});
